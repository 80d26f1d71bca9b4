"""The reports page (`/admin/reports/`): a period's figures and charts for supervisors, in the admin's look.

The same login as the admin, supervisors only (others get a 403 page). Its figures are `reports.selectors`' (the
numbers of `GET /api/reports/summary/` for the same filter), its charts SVG drawn by the template from
`reports.charts`; every chart shape and table row links to the conversations behind it in the admin's
transcript list, filtered by what the list understands (docs/reports.md, "The reports page").
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from django import forms
from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext, gettext_lazy
from django.views.decorators.http import require_GET

from agents.selectors import agent_names, is_supervisor
from customers.models import Channel
from reports import charts
from reports.selectors import (
    MAX_CHART_DAYS,
    Period,
    business_lines_for_reports,
    report_days,
    report_heatmap,
    report_ratings,
    report_summary,
)
from routing.models import BusinessLine

TITLE = gettext_lazy("Reports")
DEFAULT_DAYS = 7


class ReportFilterForm(forms.Form):
    business_line = forms.ModelChoiceField(
        queryset=BusinessLine.objects.none(), to_field_name="key", empty_label=None, label=gettext_lazy("Business line")
    )
    since = forms.DateField(label=gettext_lazy("From"), widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.DateField(
        label=gettext_lazy("Until (not included)"),
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text=gettext_lazy("Days in the business line's time zone, like the API's since and until."),
    )
    business_hours_only = forms.BooleanField(required=False, label=gettext_lazy("Business hours only"))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["business_line"].queryset = business_lines_for_reports()  # type: ignore[attr-defined]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        since, until = cleaned.get("since"), cleaned.get("until")
        if since and until:
            if until <= since:
                raise forms.ValidationError(gettext("Until must be after From."))
            if (until - since).days > MAX_CHART_DAYS:
                raise forms.ValidationError(gettext("At most %(days)s days at once.") % {"days": MAX_CHART_DAYS})
        return cleaned


def _local_midnight(day: date, zone: ZoneInfo) -> datetime:
    """A date's midnight in a zone: what the API reads `since=2026-03-02` as."""
    return timezone.make_aware(datetime.combine(day, time()), zone)


def _initial(line: BusinessLine | None) -> dict[str, Any]:
    """The last seven local days, today included, of the first business line."""
    zone = ZoneInfo(line.time_zone if line else "UTC")
    today = timezone.now().astimezone(zone).date()
    return {
        "business_line": line.key if line else "",
        "since": today - timedelta(days=DEFAULT_DAYS - 1),
        "until": today + timedelta(days=1),
        "business_hours_only": "",
    }


def transcript_list_url(
    period: Period,
    *,
    day: date | None = None,
    channel: str | None = None,
    weekday: int | None = None,
    hour: int | None = None,
    rating: int | None = None,
    agent_id: int | None = None,
    outcome: str | None = None,
) -> str:
    """The admin's transcript list filtered to the conversations a figure counts: the period (narrowed to a local
    day), the business-hours switch, and a channel, start weekday and hour, rating or (last) agent."""
    since, until = period.since, period.until
    if day is not None:
        zone = ZoneInfo(period.business_line.time_zone)
        since = max(since, _local_midnight(day, zone))
        until = min(until, _local_midnight(day + timedelta(days=1), zone))
    query: dict[str, Any] = {
        "business_line__id__exact": period.business_line.pk,
        "started_at__gte": since.isoformat(),
        "started_at__lt": until.isoformat(),
    }
    if period.business_hours_only:
        query["business_hours"] = "1"
    optional = {
        "channel__exact": channel,
        "weekday": weekday,
        "hour": hour,
        "rating": rating,
        "agent__id__exact": agent_id,
        "outcome": outcome,
    }
    query.update({key: value for key, value in optional.items() if value is not None})
    return f"{reverse('admin:chat_conversation_changelist')}?{urlencode(query)}"


def _admin_context(request: HttpRequest) -> dict[str, Any]:
    """The admin's header and user tools; no app sidebar: the charts need the room."""
    return {**admin.site.each_context(request), "is_nav_sidebar_enabled": False, "title": TITLE}


@require_GET
def reports_page(request: HttpRequest) -> HttpResponse:
    """Supervisors only; the filters are a GET form, so a report is a link that can be shared."""
    if not is_supervisor(user=request.user):
        return render(request, "reports/reports_forbidden.html", _admin_context(request), status=403)
    lines = business_lines_for_reports()
    data = request.GET if request.GET else _initial(lines.first())
    form = ReportFilterForm(data)
    context = {**_admin_context(request), "form": form, "has_lines": lines.exists()}
    if not form.is_valid():
        return render(request, "reports/reports.html", context, status=400 if request.GET else 200)
    line: BusinessLine = form.cleaned_data["business_line"]
    zone = ZoneInfo(line.time_zone)
    period = Period(
        business_line=line,
        since=_local_midnight(form.cleaned_data["since"], zone),
        until=_local_midnight(form.cleaned_data["until"], zone),
        business_hours_only=form.cleaned_data["business_hours_only"],
    )
    context.update(_report_context(period))
    return render(request, "reports/reports.html", context)


def _report_context(period: Period) -> dict[str, Any]:
    def link(**narrowed: Any) -> str:
        return transcript_list_url(period, **narrowed)

    summary = report_summary(period)
    names = agent_names(agent_ids=[row["agent_id"] for row in summary["by_agent"]])
    days = report_days(period)
    api_query = {
        "business_line": period.business_line.key,
        "since": period.since.date().isoformat(),
        "until": period.until.date().isoformat(),
    }
    if period.business_hours_only:
        api_query["business_hours_only"] = "true"
    return {
        "period": period,
        "period_since": f"{period.since:%Y-%m-%d %H:%M}",
        "period_until": f"{period.until:%Y-%m-%d %H:%M}",
        "summary": summary,
        "timings": [
            (label, figures, charts.durations_label(figures))
            for label, figures in (
                (gettext("Wait"), summary["wait_seconds"]),
                (gettext("First response"), summary["first_response_seconds"]),
                (gettext("Handling"), summary["handling_seconds"]),
            )
        ],
        "all_link": link(),
        "outcome_links": {outcome: link(outcome=outcome) for outcome in ("assigned", "missed", "abandoned")},
        "channel_links": [(channel, count, link(channel=channel)) for channel, count in summary["by_channel"].items()],
        "agents": [
            {
                **row,
                "name": names.get(row["agent_id"], f"#{row['agent_id']}"),
                "first_response": charts.durations_label(row["first_response_seconds"]),
                "handling": charts.durations_label(row["handling_seconds"]),
                "href": link(agent_id=row["agent_id"]),
            }
            for row in summary["by_agent"]
        ],
        "volume": charts.volume_chart(days, Channel.values, link),
        "timing": charts.timing_chart(days, link),
        "heatmap": charts.heatmap_chart(report_heatmap(period), link),
        "ratings": charts.ratings_chart(report_ratings(period), link),
        "csv_url": f"{reverse('report-conversations')}?{urlencode({**api_query, 'format': 'csv'})}",
        "summary_url": f"{reverse('report-summary')}?{urlencode(api_query)}",
    }
