"""Admin for supervisors: conversations as read-only transcripts, searchable, filterable and exportable as CSV.

Nothing here changes a conversation: state changes belong to the chat services, and a transcript is a record.
Message text is only ever rendered through Django's escaping (the transcript's template), never mark_safe.
"""

import csv
import zoneinfo
from collections.abc import Iterable, Iterator
from typing import Any

from django.contrib import admin
from django.contrib.admin.options import IncorrectLookupParameters
from django.db.models import Prefetch, Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.dates import WEEKDAYS
from django.utils.translation import gettext, gettext_lazy

from agents.selectors import agent_names
from audit.models import AuditAction
from audit.services import audit_record_request
from chat.models import Conversation, Message, Sender
from chat.payloads import attachment_payload, user_display_name
from chat.services import WHISPER_EVENT
from chat.system_messages import system_message_text
from cs_platform.spreadsheets import BYTE_ORDER_MARK, csv_safe
from desk.models import Label
from reports.selectors import MEASURES, OUTCOMES, business_hours_filter, local_start_fields, report_row
from routing.models import BusinessLine

EXPORT_PERMISSION = "chat.export_transcript"
# Each row is one message, after its conversation's columns (the same on each of its rows): `agents` names every
# agent it was assigned to, in order; the times and seconds follow the reports' definitions (docs/reports.md), in
# the business line's time zone; `author` is who wrote the message.
EXPORT_HEADER = [
    "conversation_id",
    "business_line",
    "channel",
    "status",
    "close_reason",
    "customer_name",
    "customer_email",
    "external_id",
    "agents",
    "started_at",
    "assigned_at",
    "first_response_at",
    "closed_at",
    "wait_seconds",
    "first_response_seconds",
    "handling_seconds",
    "rating",
    "labels",
    "seq",
    "sender",
    "author",
    "body",
    "internal_note",
    "created_at",
    "attachments",
]
EXPORT_CHUNK_SIZE = 500
TIMING_COLUMNS = (
    "started_at",
    "assigned_at",
    "first_response_at",
    "closed_at",
    "wait_seconds",
    "first_response_seconds",
    "handling_seconds",
    "rating",
)


def handler_ids_of(conversation: Conversation) -> list[int]:
    """Every agent it was assigned to, in order; its current agent too (rows older than `handler_ids` lack it)."""
    ids = list(conversation.handler_ids)
    if conversation.agent_id is not None and conversation.agent_id not in ids:
        ids.append(conversation.agent_id)
    return ids


def transcript_export_rows(*, conversations: QuerySet[Conversation]) -> Iterator[list[Any]]:
    """One row per message of the given conversations (one row with empty message cells for a conversation
    without any): conversations by id, messages by seq, cells made inert. Read in chunks of conversations."""
    measured = (
        Conversation.objects.filter(pk__in=conversations.values("pk"))
        .annotate(**MEASURES)
        .select_related("business_line", "customer")
        .prefetch_related(Prefetch("labels", queryset=Label.objects.order_by("name", "id")))
        .order_by("pk")
    )
    chunk: list[Conversation] = []
    for conversation in measured.iterator(chunk_size=EXPORT_CHUNK_SIZE):
        chunk.append(conversation)
        if len(chunk) == EXPORT_CHUNK_SIZE:
            yield from _chunk_rows(chunk)
            chunk = []
    yield from _chunk_rows(chunk)


def _chunk_rows(chunk: list[Conversation]) -> Iterator[list[Any]]:
    if not chunk:
        return
    ids = [conversation.pk for conversation in chunk]
    names = agent_names(agent_ids=[agent_id for conversation in chunk for agent_id in handler_ids_of(conversation)])
    messages: dict[int, list[Message]] = {pk: [] for pk in ids}
    for message in (
        Message.objects.filter(conversation_id__in=ids)
        .select_related("agent", "author_user")
        .prefetch_related("attachments")
        .order_by("conversation_id", "seq")
    ):
        messages[message.conversation_id].append(message)
    for conversation in chunk:
        report = report_row(conversation, business_line=conversation.business_line)
        customer = conversation.customer
        head = [
            conversation.pk,
            conversation.business_line.name,
            conversation.channel,
            conversation.status,
            conversation.close_reason,
            customer.name,
            customer.email,
            customer.external_id or "",
            "; ".join(names.get(agent_id, f"#{agent_id}") for agent_id in handler_ids_of(conversation)),
            *("" if report[column] is None else report[column] for column in TIMING_COLUMNS),
            "; ".join(report["labels"]),
        ]
        tails = [_message_cells(message, customer_name=customer.name) for message in messages[conversation.pk]]
        for tail in tails or [[""] * 7]:
            yield [csv_safe(cell) for cell in head + tail]


def _message_cells(message: Message, *, customer_name: str) -> list[Any]:
    return [
        message.seq,
        message.sender,
        _author(message, customer_name=customer_name),
        message.body,
        "yes" if message.is_internal_note else "no",
        message.created_at.isoformat(),
        "; ".join(attachment.name for attachment in message.attachments.all()),
    ]


def _author(message: Message, *, customer_name: str, translated: bool = False) -> str:
    """Who wrote the message; a whisper's author in the reader's language when `translated` (the admin's
    transcript), in English otherwise (the CSV export, read by programs as well as people)."""
    if message.sender == Sender.AGENT and message.agent is not None:
        return message.agent.display_name
    if message.sender == Sender.CUSTOMER:
        return customer_name
    if message.event == WHISPER_EVENT:
        if not translated:
            name = user_display_name(message.author_user) if message.author_user else "Supervisor"
            return f"{name} (whisper)"
        name = user_display_name(message.author_user) if message.author_user else gettext("Supervisor")
        return gettext("%(name)s (whisper)") % {"name": name}
    return ""


def write_transcript_csv(*, out: Any, rows: Iterable[list[Any]]) -> None:
    """UTF-8 with a byte-order mark, so that Excel reads Chinese (and any non-Latin) text correctly."""
    out.write(BYTE_ORDER_MARK)
    writer = csv.writer(out)
    writer.writerow(EXPORT_HEADER)
    writer.writerows(rows)


# The transcript, read as a chat


def transcript_entries(conversation: Conversation) -> list[dict[str, Any]]:
    """The conversation's messages as the chat view shows them: who, when (in the business line's time zone),
    what, its files; system events and internal notes told apart. One query for messages, one for files."""
    zone = zoneinfo.ZoneInfo(conversation.business_line.time_zone)
    messages = (
        conversation.messages.select_related("agent", "author_user").prefetch_related("attachments").order_by("seq")
    )
    entries = []
    for message in messages:
        if message.sender == Sender.SYSTEM and message.event != WHISPER_EVENT:
            kind = "system"
        elif message.is_internal_note:
            kind = "note"
        else:
            kind = message.sender
        entries.append(
            {
                "kind": kind,
                "seq": message.seq,
                "author": _author(message, customer_name=conversation.customer.name, translated=True)
                or gettext("System"),
                "at": message.created_at.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S"),
                "body": system_message_text(
                    event=message.event, params=message.params or {}, body=message.body, reader="agent"
                )
                if kind == "system"
                else message.body,
                "event": message.event,
                "files": [attachment_payload(attachment) for attachment in message.attachments.all()],
            }
        )
    return entries


# The list's filters the reports page links to: a conversation's start hour and weekday in its business line's time
# zone, and whether it started within the line's business hours (reports.selectors holds each definition).


# The reports' outcomes (reports.selectors.OUTCOMES), named for the list filter.
OUTCOME_LABELS = {
    "assigned": gettext_lazy("Assigned"),
    "missed": gettext_lazy("Missed"),
    "abandoned": gettext_lazy("Abandoned"),
}


class LocalHourFilter(admin.SimpleListFilter):
    title = gettext_lazy("hour started (business line's time)")
    parameter_name = "hour"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(str(hour), f"{hour:02d}:00-{hour:02d}:59") for hour in range(24)]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Conversation]) -> QuerySet[Conversation]:
        value = _choice(self)
        if value is None:
            return queryset
        return queryset.alias(local_hour=local_start_fields()["local_hour"]).filter(local_hour=int(value))


class LocalWeekdayFilter(admin.SimpleListFilter):
    title = gettext_lazy("weekday started (business line's time)")
    parameter_name = "weekday"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(str(number), WEEKDAYS[number - 1]) for number in range(1, 8)]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Conversation]) -> QuerySet[Conversation]:
        value = _choice(self)
        if value is None:
            return queryset
        return queryset.alias(local_weekday=local_start_fields()["local_weekday"]).filter(local_weekday=int(value))


class BusinessHoursFilter(admin.SimpleListFilter):
    title = gettext_lazy("started within business hours")
    parameter_name = "business_hours"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("1", gettext("Yes"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Conversation]) -> QuerySet[Conversation]:
        if _choice(self) is None:
            return queryset
        local = local_start_fields()
        within = Q(pk__in=[])
        for line in BusinessLine.objects.all():
            within |= Q(business_line=line) & business_hours_filter(line)
        return queryset.alias(local_weekday=local["local_weekday"], local_time=local["local_time"]).filter(within)


class OutcomeFilter(admin.SimpleListFilter):
    title = gettext_lazy("outcome (as the reports count it)")
    parameter_name = "outcome"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(name, str(OUTCOME_LABELS[name])) for name in OUTCOMES]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Conversation]) -> QuerySet[Conversation]:
        value = _choice(self)
        return queryset if value is None else queryset.filter(OUTCOMES[value])


def _choice(list_filter: admin.SimpleListFilter) -> str | None:
    """The filter's value, refused (the admin's "invalid filter" notice) unless it is one of its choices."""
    value = list_filter.value()
    if value is not None and value not in {key for key, _ in list_filter.lookup_choices}:
        raise IncorrectLookupParameters(f"{list_filter.parameter_name}={value!r} is not one of its choices")
    return value


@admin.register(Conversation)
class ConversationAdmin(admin.ModelAdmin):
    list_display = ["id", "customer", "business_line", "channel", "status", "agent", "started_at", "rating"]
    list_filter = [
        "status",
        "channel",
        "business_line",
        "agent",
        "labels",
        "started_at",
        "rating",
        OutcomeFilter,
        LocalHourFilter,
        LocalWeekdayFilter,
        BusinessHoursFilter,
    ]
    list_select_related = ["customer", "business_line", "agent"]
    search_fields = ["customer__name", "customer__email", "customer__external_id", "messages__body"]
    search_help_text = gettext_lazy("Customer name, email or external id, or any text said in the conversation.")
    date_hierarchy = "started_at"
    actions = ["export_transcripts"]
    readonly_fields = ["transcript", "handled_by", "figures"]
    fieldsets = [
        (gettext_lazy("Transcript"), {"fields": ["transcript"]}),
        (None, {"fields": ["customer", "business_line", "channel", "status", "agent", "handled_by", "priority"]}),
        (
            gettext_lazy("Timeline"),
            {
                "fields": [
                    "started_at",
                    "queued_at",
                    "assigned_at",
                    "first_agent_reply_at",
                    "last_customer_message_at",
                    "last_agent_message_at",
                    "closed_at",
                    "close_reason",
                ]
            },
        ),
        (gettext_lazy("Outcome"), {"fields": ["figures", "rating", "rating_comment", "last_seq"]}),
    ]

    class Media:
        css = {"all": ["reports/transcript.css"]}

    def get_queryset(self, request: HttpRequest) -> QuerySet[Conversation]:
        return super().get_queryset(request).annotate(**MEASURES)

    @admin.display(description=gettext_lazy("Messages"))
    def transcript(self, conversation: Conversation) -> str:
        """The messages as a chat, rendered by a template (so escaped); every message once."""
        return render_to_string(
            "admin/chat/conversation/transcript.html", {"entries": transcript_entries(conversation)}
        )

    @admin.display(description=gettext_lazy("Handled by"))
    def handled_by(self, conversation: Conversation) -> str:
        names = agent_names(agent_ids=handler_ids_of(conversation))
        return ", ".join(names.get(agent_id, f"#{agent_id}") for agent_id in handler_ids_of(conversation)) or "-"

    @admin.display(description=gettext_lazy("Wait, first response, handling"))
    def figures(self, conversation: Conversation) -> str:
        row = report_row(conversation, business_line=conversation.business_line)
        return " / ".join(
            "-" if row[column] is None else f"{row[column]:g} s"
            for column in ("wait_seconds", "first_response_seconds", "handling_seconds")
        )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Conversation | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Conversation | None = None) -> bool:
        return False

    def has_export_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(EXPORT_PERMISSION)

    @admin.action(description=gettext_lazy("Export selected transcripts as CSV"), permissions=["export"])
    def export_transcripts(self, request: HttpRequest, queryset: QuerySet[Conversation]) -> HttpResponse:
        conversation_ids = sorted(queryset.values_list("pk", flat=True))
        audit_record_request(
            request=request,
            action=AuditAction.TRANSCRIPT_EXPORT,
            target_type=Conversation._meta.label_lower,
            details={"conversations": len(conversation_ids), "conversation_ids": conversation_ids},
        )
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        filename = f"transcripts-{timezone.now():%Y%m%d-%H%M%S}.csv"
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        write_transcript_csv(out=response, rows=transcript_export_rows(conversations=queryset))
        return response
