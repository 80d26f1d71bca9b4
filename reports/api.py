"""REST for supervisors: a period's figures, its conversations one row each (JSON pages or CSV), and the live floor.

Supervisors only (the `Supervisors` group, superusers), with an API token or their admin session; agents and
customers are refused with `403 not_a_supervisor`. The definitions are `reports.selectors`' (docs/reports.md).
"""

from __future__ import annotations

import csv
import zoneinfo
from collections.abc import Iterator
from datetime import date, datetime, time
from typing import Any

from django.http import StreamingHttpResponse
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.translation import gettext, gettext_lazy
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import AuthenticationFailed, NotFound, PermissionDenied, ValidationError
from rest_framework.pagination import CursorPagination
from rest_framework.permissions import BasePermission
from rest_framework.renderers import BaseRenderer, BrowsableAPIRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from agents.models import Presence
from agents.selectors import is_supervisor
from chat.models import CloseReason, ConversationStatus
from cs_platform.errors import ErrorCode
from cs_platform.rest import ErrorSerializer
from cs_platform.spreadsheets import BYTE_ORDER_MARK, csv_safe
from customers.models import Channel
from customers.selectors import customer_id_from_token
from reports.selectors import (
    ROW_COLUMNS,
    ROW_ORDER,
    Period,
    business_line_by_key,
    floor_monitor,
    report_row,
    report_rows,
    report_rows_all,
    report_summary,
)
from routing.models import BusinessLine


class IsSupervisor(BasePermission):
    message = gettext_lazy("Only supervisors may read reports and the monitor.")
    code = ErrorCode.NOT_A_SUPERVISOR

    def has_permission(self, request: Request, view: APIView) -> bool:
        return is_supervisor(user=request.user)


REPORT_ERRORS = {
    400: OpenApiResponse(ErrorSerializer, description="`invalid_request`: a missing or malformed parameter."),
    401: OpenApiResponse(ErrorSerializer, description="`not_authenticated` or `authentication_failed`."),
    403: OpenApiResponse(ErrorSerializer, description="`not_a_supervisor`: agents, customers, other users."),
    404: OpenApiResponse(ErrorSerializer, description="`business_line_not_found`: no business line has that key."),
}
BUSINESS_LINE_PARAMETER = OpenApiParameter(
    "business_line", str, required=True, description="The business line's widget key."
)
PERIOD_PARAMETERS = [
    BUSINESS_LINE_PARAMETER,
    OpenApiParameter(
        "since",
        str,
        required=True,
        description="Start of the period (included): an ISO 8601 date or date-time. A date, or a date-time without "
        "an offset, is read in the business line's time zone.",
    ),
    OpenApiParameter("until", str, required=True, description="End of the period (excluded), like `since`."),
    OpenApiParameter(
        "business_hours_only",
        bool,
        description="`true`: only the conversations started within the business line's business hours (in its "
        "time zone; a line without a schedule is always open). Default `false`.",
    ),
]


class SupervisorApi(APIView):
    """What the three endpoints share: who may call, and how the business line and the period are read."""

    permission_classes = [IsSupervisor]

    def handle_exception(self, exc: Exception) -> Response:
        """A customer's widget token is none of REST's, but a customer is refused as one (403), not as a stranger."""
        if isinstance(exc, AuthenticationFailed) and _holds_customer_token(self.request):
            exc = PermissionDenied(IsSupervisor.message, code=ErrorCode.NOT_A_SUPERVISOR)
        return super().handle_exception(exc)

    def business_line(self, request: Request) -> BusinessLine:
        key = request.query_params.get("business_line", "")
        if not key:
            raise ValidationError({"business_line": [gettext("This parameter is required.")]})
        line = business_line_by_key(key=key)
        if line is None:
            raise NotFound(gettext("Unknown business line."), code=ErrorCode.BUSINESS_LINE_NOT_FOUND)
        return line

    def period(self, request: Request) -> Period:
        line = self.business_line(request)
        zone = zoneinfo.ZoneInfo(line.time_zone)
        since = _moment(request, "since", zone)
        until = _moment(request, "until", zone)
        if until <= since:
            raise ValidationError({"until": [gettext("Must be after since.")]})
        return Period(
            business_line=line, since=since, until=until, business_hours_only=_flag(request, "business_hours_only")
        )


FLAG_VALUES = {"": False, "0": False, "false": False, "1": True, "true": True}


def _flag(request: Request, name: str) -> bool:
    text = request.query_params.get(name, "").lower()
    if text not in FLAG_VALUES:
        raise ValidationError({name: [gettext("Must be true or false.")]})
    return FLAG_VALUES[text]


def _holds_customer_token(request: Request) -> bool:
    header = request.headers.get("Authorization", "")
    token = header.removeprefix("Token ").strip() if header.startswith("Token ") else request.query_params.get("token")
    return customer_id_from_token(token=token or "") is not None


def _moment(request: Request, name: str, zone: zoneinfo.ZoneInfo) -> datetime:
    """A date (its midnight) or a date-time; without an offset it is the business line's local time."""
    text = request.query_params.get(name, "")
    if not text:
        raise ValidationError({name: [gettext("This parameter is required.")]})
    try:
        moment = parse_datetime(text)
        day: date | None = None if moment is not None else parse_date(text)
    except ValueError:
        moment, day = None, None
    if day is not None:
        moment = datetime.combine(day, time())
    if moment is None:
        raise ValidationError({name: [gettext("Not an ISO 8601 date or date-time.")]})
    return timezone.make_aware(moment, zone) if timezone.is_naive(moment) else moment


class SecondsSerializer(serializers.Serializer):
    avg = serializers.FloatField(allow_null=True)
    p50 = serializers.FloatField(allow_null=True, help_text="Median (interpolated).")
    p90 = serializers.FloatField(allow_null=True, help_text="90th percentile (interpolated).")
    max = serializers.FloatField(allow_null=True)


class CsatSerializer(serializers.Serializer):
    responses = serializers.IntegerField(help_text="Rated conversations.")
    average = serializers.FloatField(allow_null=True, help_text="Average rating, 1 to 5.")
    score = serializers.FloatField(allow_null=True, help_text="Percentage of ratings of 4 or 5.")


class SummaryApi(SupervisorApi):
    class SummaryOutputSerializer(serializers.Serializer):
        class SummaryAgentSerializer(serializers.Serializer):
            agent_id = serializers.IntegerField()
            conversations = serializers.IntegerField()
            first_response_seconds = SecondsSerializer()
            handling_seconds = SecondsSerializer()
            csat = CsatSerializer()

        conversations = serializers.IntegerField(help_text="Started in the period.")
        assigned = serializers.IntegerField(help_text="Ever assigned to an agent.")
        missed = serializers.IntegerField(help_text="Ended by the wait timeout (picked later or not).")
        abandoned = serializers.IntegerField(help_text="Closed by the customer while waiting.")
        wait_seconds = SecondsSerializer(help_text="First assignment - start.")
        first_response_seconds = SecondsSerializer(help_text="First message an agent wrote - start.")
        handling_seconds = SecondsSerializer(help_text="Close - first assignment.")
        csat = CsatSerializer()
        by_channel = serializers.DictField(child=serializers.IntegerField(), help_text="Every channel, 0 when none.")
        by_agent = SummaryAgentSerializer(many=True, help_text="By the agent who had the conversation last.")

    @extend_schema(
        operation_id="report_summary",
        tags=["reports"],
        summary="A period's figures",
        description="Over the conversations of a business line **started** in `[since, until)`. Definitions in "
        "docs/reports.md. Each `*_seconds` is `{avg, p50, p90, max}`, null members when there is nothing to measure.",
        parameters=PERIOD_PARAMETERS,
        responses={200: SummaryOutputSerializer, **REPORT_ERRORS},
    )
    def get(self, request: Request) -> Response:
        return Response(report_summary(self.period(request)))


class ReportRowSerializer(serializers.Serializer):
    """One conversation, its times in the business line's time zone (ISO 8601 with the offset)."""

    id = serializers.IntegerField()
    business_line = serializers.CharField(help_text="The business line's widget key.")
    channel = serializers.ChoiceField(choices=Channel.choices)
    customer_id = serializers.IntegerField()
    agent_id = serializers.IntegerField(allow_null=True, help_text="The agent who has (or had) it last.")
    status = serializers.ChoiceField(choices=ConversationStatus.choices)
    close_reason = serializers.ChoiceField(choices=CloseReason.choices, allow_null=True)
    started_at = serializers.DateTimeField()
    assigned_at = serializers.DateTimeField(allow_null=True, help_text="The first assignment.")
    first_response_at = serializers.DateTimeField(allow_null=True)
    closed_at = serializers.DateTimeField(allow_null=True)
    wait_seconds = serializers.FloatField(allow_null=True)
    first_response_seconds = serializers.FloatField(allow_null=True)
    handling_seconds = serializers.FloatField(allow_null=True)
    rating = serializers.IntegerField(allow_null=True)
    labels = serializers.ListField(child=serializers.CharField())


class ReportRowsPageSerializer(serializers.Serializer):
    next = serializers.URLField(allow_null=True, help_text="The next page's URL; null on the last page.")
    previous = serializers.URLField(allow_null=True, help_text="The previous page's URL; null on the first page.")
    results = ReportRowSerializer(many=True, help_text="Oldest first.")


class ReportRowsPagination(CursorPagination):
    """Keyset pages: as fast on the thousandth page as on the first, and stable while conversations start."""

    ordering = ROW_ORDER
    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 1000


class CsvRenderer(BaseRenderer):
    """Lets `?format=csv` through content negotiation; the view writes the CSV itself, streamed."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data: Any, accepted_media_type: str | None = None, renderer_context: Any = None) -> bytes:
        return b""  # only errors get here; they are JSON (the view answers them through `JSONRenderer`)


class _Echo:
    """A file-like object for `csv.writer` that hands each written line back."""

    def write(self, value: str) -> str:
        return value


def _csv_lines(rows: Iterator[dict[str, Any]]) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield BYTE_ORDER_MARK + writer.writerow(ROW_COLUMNS)
    for row in rows:
        cells = [";".join(row[c]) if c == "labels" else row[c] for c in ROW_COLUMNS]
        yield writer.writerow(["" if cell is None else csv_safe(cell) for cell in cells])


class ConversationRowsApi(SupervisorApi):
    renderer_classes = [JSONRenderer, BrowsableAPIRenderer, CsvRenderer]

    @extend_schema(
        operation_id="report_conversations",
        tags=["reports"],
        summary="A period's conversations, one row each",
        description="The conversations of a business line started in `[since, until)`, oldest first, in pages "
        "(follow `next`). `format=csv` gives every row as one CSV file (UTF-8 with a byte-order mark, cells that "
        "would start a formula prefixed with `'`, labels joined by `;`).",
        parameters=[
            *PERIOD_PARAMETERS,
            OpenApiParameter("cursor", str, description="The page: take `next` or `previous` as they are."),
            OpenApiParameter("page_size", int, description="Rows per page, at most 1000 (default 100)."),
            OpenApiParameter("format", str, enum=["json", "csv"], description="`csv` for the whole period as CSV."),
        ],
        responses={200: ReportRowsPageSerializer, **REPORT_ERRORS},
    )
    def get(self, request: Request) -> Response | StreamingHttpResponse:
        period = self.period(request)
        if request.accepted_renderer.format == "csv":
            response = StreamingHttpResponse(
                _csv_lines(report_rows_all(period)), content_type="text/csv; charset=utf-8"
            )
            filename = f"conversations-{period.business_line.key}-{period.since:%Y%m%d}-{period.until:%Y%m%d}.csv"
            response["Content-Disposition"] = f'attachment; filename="{filename}"'
            return response
        paginator = ReportRowsPagination()
        page = paginator.paginate_queryset(report_rows(period), request, view=self) or []
        return paginator.get_paginated_response([report_row(c, business_line=period.business_line) for c in page])

    def finalize_response(self, request: Request, response: Any, *args: Any, **kwargs: Any) -> Any:
        """Errors asked for as CSV are answered in JSON like every other error."""
        if isinstance(response, Response) and response.status_code >= 400:
            request.accepted_renderer = JSONRenderer()
            request.accepted_media_type = JSONRenderer.media_type
        return super().finalize_response(request, response, *args, **kwargs)


class MonitorApi(SupervisorApi):
    class MonitorOutputSerializer(serializers.Serializer):
        class MonitorAgentSerializer(serializers.Serializer):
            id = serializers.IntegerField()
            name = serializers.CharField()
            status = serializers.ChoiceField(
                choices=Presence.choices, help_text="Their choice; `offline` without a live socket."
            )
            load = serializers.IntegerField(help_text="Active conversations now.")
            capacity = serializers.IntegerField()

        waiting = serializers.IntegerField(help_text="Conversations waiting for an agent now.")
        longest_wait_seconds = serializers.FloatField(
            allow_null=True, help_text="Since the start of the oldest waiting conversation; null when none waits."
        )
        active = serializers.IntegerField(help_text="Conversations with an agent now.")
        missed_today = serializers.IntegerField(help_text="Missed since midnight in the business line's time zone.")
        agents = MonitorAgentSerializer(many=True, help_text="The business line's team.")

    @extend_schema(
        operation_id="monitor",
        tags=["reports"],
        summary="The business line's floor at this moment",
        parameters=[BUSINESS_LINE_PARAMETER],
        responses={200: MonitorOutputSerializer, **REPORT_ERRORS},
    )
    def get(self, request: Request) -> Response:
        return Response(floor_monitor(self.business_line(request)))
