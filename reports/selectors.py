"""Reads for supervisors: a period's figures, one row per conversation, and the floor at this moment.

The figures are computed by PostgreSQL from timestamps the lifecycle records as things happen
(`Conversation.first_assigned_at`, `first_agent_reply_at`, `missed_at`, `closed_at`), never by reading messages,
so that every screen, export and API gives the same number for the same filter (docs/reports.md, "Definitions"):

- a conversation **starts** at `started_at` (`conversation.start`); a period holds the conversations started in it;
- **wait** = first assignment - start; **first response** = the first message an agent wrote (no system event, no
  internal note) - start; **handling** = close - first assignment;
- **missed** = ended by the wait timeout (also when an agent picked it later); **abandoned** = closed by the
  customer while waiting (no agent had it at that moment);
- **CSAT**: `responses` rated conversations, `average` of their 1-5 ratings, `score` the % of ratings of 4 or 5.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, TypedDict

from django.db.models import (
    Aggregate,
    Avg,
    Count,
    DateField,
    DateTimeField,
    ExpressionWrapper,
    F,
    FloatField,
    Func,
    IntegerField,
    Max,
    Min,
    Prefetch,
    Q,
    QuerySet,
    TextField,
    TimeField,
    Value,
)
from django.db.models.functions import Cast
from django.utils import timezone

from agents import presence
from agents.models import Agent, Presence
from chat.models import CloseReason, Conversation, ConversationStatus
from customers.models import Channel
from desk.models import Label
from routing.models import BusinessLine
from routing.selectors import business_hours_q

ROUNDING = 3  # seconds to the millisecond; averages and percentages to three decimals


class SecondsFigures(TypedDict):
    avg: float | None
    p50: float | None
    p90: float | None
    max: float | None


class CsatFigures(TypedDict):
    responses: int
    average: float | None
    score: float | None


class AgentFigures(TypedDict):
    agent_id: int
    conversations: int
    first_response_seconds: SecondsFigures
    handling_seconds: SecondsFigures
    csat: CsatFigures


class Summary(TypedDict):
    conversations: int
    assigned: int
    missed: int
    abandoned: int
    wait_seconds: SecondsFigures
    first_response_seconds: SecondsFigures
    handling_seconds: SecondsFigures
    csat: CsatFigures
    by_channel: dict[str, int]
    by_agent: list[AgentFigures]


class MonitorAgent(TypedDict):
    id: int
    name: str
    status: str
    load: int
    capacity: int


class Monitor(TypedDict):
    waiting: int
    longest_wait_seconds: float | None
    active: int
    missed_today: int
    agents: list[MonitorAgent]


@dataclass(frozen=True)
class Period:
    """The conversations of a business line started in `[since, until)`; with `business_hours_only`, only those
    started within the line's business hours (all of them when it has no schedule: always open)."""

    business_line: BusinessLine
    since: datetime
    until: datetime
    business_hours_only: bool = False


class _Seconds(Func):
    """A duration (the difference of two timestamps) in seconds; null when either is null."""

    template = "EXTRACT(EPOCH FROM %(expressions)s)::double precision"
    output_field = FloatField()


class _Percentile(Aggregate):
    """PostgreSQL's continuous percentile (interpolated, like a spreadsheet's PERCENTILE); nulls are left out."""

    function = "PERCENTILE_CONT"
    template = "%(function)s(%(fraction)s) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = FloatField()

    def __init__(self, expression: str, *, fraction: float) -> None:
        super().__init__(expression, fraction=fraction)


MEASURES = {
    "wait": _Seconds(F("first_assigned_at") - F("started_at")),
    "first_response": _Seconds(F("first_agent_reply_at") - F("started_at")),
    "handling": _Seconds(F("closed_at") - F("first_assigned_at")),
}
MISSED = Q(missed_at__isnull=False)
# Closed by the customer with no agent on it: `assigned_at` is the current agent's, cleared by every requeue.
ABANDONED = Q(close_reason=CloseReason.CUSTOMER, assigned_at__isnull=True)
PROMOTER = Q(rating__gte=4)
ASSIGNED = Q(first_assigned_at__isnull=False)
# The outcomes the summary counts, by name: the admin's list filters by the same conditions.
OUTCOMES = {"assigned": ASSIGNED, "missed": MISSED, "abandoned": ABANDONED}


# Days and hours: a conversation's start in its business line's time zone. One definition, for the reports (the
# zone of the line asked for, a constant) and the admin's list filters (each row's own line's zone, a join).


class _LocalStart(Func):
    """`started_at` as a local date-time (no zone) in the time zone named by the expression given."""

    function = "timezone"
    output_field = DateTimeField()

    def __init__(self, zone: Value | F) -> None:
        super().__init__(Cast(zone, TextField()), F("started_at"))


class _Part(Func):
    template = "EXTRACT(%(part)s FROM %(expressions)s)::integer"
    output_field = IntegerField()


def local_start_fields(*, zone: str | None = None) -> dict[str, Func]:
    """Annotations of a conversation's local start: `local_date`, `local_hour` (0-23), `local_weekday` (ISO, 1 =
    Monday) and `local_time`, in `zone`, or in each conversation's business line's zone when `zone` is None."""
    local = _LocalStart(Value(zone) if zone is not None else F("business_line__time_zone"))
    return {
        "local_date": Cast(local, DateField()),
        "local_hour": _Part(local, part="HOUR"),
        "local_weekday": _Part(local, part="ISODOW"),
        "local_time": Cast(local, TimeField()),
    }


def business_hours_filter(business_line: BusinessLine) -> Q:
    """The conversations (annotated with `local_start_fields`) started within the line's business hours."""
    return business_hours_q(business_line, iso_weekday="local_weekday", local_time="local_time")


def period_conversations(period: Period) -> QuerySet[Conversation]:
    """The period's conversations, each with its `wait`, `first_response` and `handling` in seconds."""
    conversations = Conversation.objects.filter(
        business_line=period.business_line, started_at__gte=period.since, started_at__lt=period.until
    )
    if period.business_hours_only and period.business_line.business_hours:
        conversations = conversations.alias(**local_start_fields(zone=period.business_line.time_zone)).filter(
            business_hours_filter(period.business_line)
        )
    return conversations.annotate(**MEASURES)


def _seconds_aggregates(measure: str) -> dict[str, Aggregate]:
    return {
        f"{measure}__avg": Avg(measure),
        f"{measure}__p50": _Percentile(measure, fraction=0.5),
        f"{measure}__p90": _Percentile(measure, fraction=0.9),
        f"{measure}__max": Max(measure),
    }


_CSAT_AGGREGATES: dict[str, Aggregate] = {
    "csat__responses": Count("rating"),
    "csat__average": Avg("rating"),
    "csat__promoters": Count("rating", filter=PROMOTER),
}


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, ROUNDING)


def _seconds_figures(row: Mapping[str, Any], measure: str) -> SecondsFigures:
    return SecondsFigures(
        avg=_rounded(row[f"{measure}__avg"]),
        p50=_rounded(row[f"{measure}__p50"]),
        p90=_rounded(row[f"{measure}__p90"]),
        max=_rounded(row[f"{measure}__max"]),
    )


def _csat_figures(row: Mapping[str, Any]) -> CsatFigures:
    responses: int = row["csat__responses"]
    average = row["csat__average"]
    return CsatFigures(
        responses=responses,
        average=_rounded(float(average)) if average is not None else None,
        score=_rounded(100 * row["csat__promoters"] / responses) if responses else None,
    )


def report_summary(period: Period) -> Summary:
    """The period's figures: counts, the timings' average, median, 90th percentile and maximum, CSAT, the volume
    per channel and the figures per agent (the agent who had the conversation last)."""
    conversations = period_conversations(period)
    totals = conversations.aggregate(
        conversations=Count("id"),
        assigned=Count("id", filter=ASSIGNED),
        missed=Count("id", filter=MISSED),
        abandoned=Count("id", filter=ABANDONED),
        **_seconds_aggregates("wait"),
        **_seconds_aggregates("first_response"),
        **_seconds_aggregates("handling"),
        **_CSAT_AGGREGATES,
    )
    by_channel = dict.fromkeys(Channel.values, 0)
    for channel, count in conversations.order_by().values_list("channel").annotate(count=Count("id")):
        by_channel[channel] = count
    # Grouped by `agent_id + 0`, an expression no index holds: over a long period PostgreSQL would otherwise walk
    # the agent_id index across the whole table, one random heap read per row (10 s at a million conversations,
    # against 3 s for one sequential scan and a sort; docs/performance.md, "Reports at a million conversations").
    per_agent = (
        conversations.filter(agent__isnull=False)
        .annotate(agent_key=ExpressionWrapper(F("agent_id") + 0, output_field=IntegerField()))
        .order_by("agent_key")
        .values("agent_key")
        .annotate(
            conversations=Count("id"),
            **_seconds_aggregates("first_response"),
            **_seconds_aggregates("handling"),
            **_CSAT_AGGREGATES,
        )
    )
    return Summary(
        conversations=totals["conversations"],
        assigned=totals["assigned"],
        missed=totals["missed"],
        abandoned=totals["abandoned"],
        wait_seconds=_seconds_figures(totals, "wait"),
        first_response_seconds=_seconds_figures(totals, "first_response"),
        handling_seconds=_seconds_figures(totals, "handling"),
        csat=_csat_figures(totals),
        by_channel=by_channel,
        by_agent=[
            AgentFigures(
                agent_id=row["agent_key"],
                conversations=row["conversations"],
                first_response_seconds=_seconds_figures(row, "first_response"),
                handling_seconds=_seconds_figures(row, "handling"),
                csat=_csat_figures(row),
            )
            for row in per_agent
        ],
    )


# The conversation report: its columns, in the order of the CSV
ROW_COLUMNS = (
    "id",
    "business_line",
    "channel",
    "customer_id",
    "agent_id",
    "status",
    "close_reason",
    "started_at",
    "assigned_at",
    "first_response_at",
    "closed_at",
    "wait_seconds",
    "first_response_seconds",
    "handling_seconds",
    "rating",
    "labels",
)
ROW_ORDER = ("started_at", "id")


def report_rows(period: Period) -> QuerySet[Conversation]:
    """The period's conversations in `ROW_ORDER`, with what `report_row` needs (one more query per page or chunk,
    for the labels)."""
    labels = Prefetch("labels", queryset=Label.objects.order_by("name", "id"))
    return period_conversations(period).order_by(*ROW_ORDER).prefetch_related(labels)


def report_row(conversation: Conversation, *, business_line: BusinessLine) -> dict[str, Any]:
    """One conversation of `report_rows` as the report's row, its times in the business line's time zone.

    `assigned_at` is the first assignment (the one `wait` counts to); `labels` are the names of its labels
    (`desk.models.Label`), sorted.
    """
    zone = zoneinfo.ZoneInfo(business_line.time_zone)
    measured: dict[str, float | None] = {name: getattr(conversation, name) for name in MEASURES}
    return {
        "id": conversation.pk,
        "business_line": business_line.key,
        "channel": conversation.channel,
        "customer_id": conversation.customer_id,
        "agent_id": conversation.agent_id,
        "status": conversation.status,
        "close_reason": conversation.close_reason or None,
        "started_at": _local(conversation.started_at, zone),
        "assigned_at": _local(conversation.first_assigned_at, zone),
        "first_response_at": _local(conversation.first_agent_reply_at, zone),
        "closed_at": _local(conversation.closed_at, zone),
        "wait_seconds": _rounded(measured["wait"]),
        "first_response_seconds": _rounded(measured["first_response"]),
        "handling_seconds": _rounded(measured["handling"]),
        "rating": conversation.rating,
        "labels": [label.name for label in conversation.labels.all()],
    }


def report_rows_all(period: Period, *, chunk_size: int = 2000) -> Iterator[dict[str, Any]]:
    """Every row of the period, read in chunks (the CSV export), each chunk's labels in one more query."""
    for conversation in report_rows(period).iterator(chunk_size=chunk_size):
        yield report_row(conversation, business_line=period.business_line)


def _local(moment: datetime | None, zone: zoneinfo.ZoneInfo) -> str | None:
    return None if moment is None else moment.astimezone(zone).isoformat()


# The charts of the reports page: the same period and definitions, by local day, by local hour and weekday, by rating

CHART_MEASURES = ("wait", "first_response")
MAX_CHART_DAYS = 366


class DayFigures(TypedDict):
    date: date
    conversations: int
    by_channel: dict[str, int]
    wait_seconds: SecondsFigures
    first_response_seconds: SecondsFigures


def period_days(period: Period) -> list[date]:
    """The local days the period touches, in the business line's time zone (`until` excluded)."""
    zone = zoneinfo.ZoneInfo(period.business_line.time_zone)
    first = period.since.astimezone(zone).date()
    last = (period.until - timedelta(microseconds=1)).astimezone(zone).date()
    return [first + timedelta(days=offset) for offset in range((last - first).days + 1)]


def report_days(period: Period) -> list[DayFigures]:
    """Each local day of the period: its volume per channel, its waits and first responses (every day listed,
    0 and nulls when nothing started on it)."""
    local = local_start_fields(zone=period.business_line.time_zone)
    conversations = period_conversations(period).annotate(local_date=local["local_date"]).order_by()
    per_day: dict[date, Mapping[str, Any]] = {
        row["local_date"]: row
        for row in conversations.values("local_date").annotate(
            conversations=Count("id"),
            **{f"channel_{channel}": Count("id", filter=Q(channel=channel)) for channel in Channel.values},
            **_seconds_aggregates("wait"),
            **_seconds_aggregates("first_response"),
        )
    }
    days = []
    for day in period_days(period):
        row = per_day.get(day)
        days.append(
            DayFigures(
                date=day,
                conversations=row["conversations"] if row else 0,
                by_channel={channel: row[f"channel_{channel}"] if row else 0 for channel in Channel.values},
                wait_seconds=_seconds_figures(row, "wait") if row else _NO_SECONDS,
                first_response_seconds=_seconds_figures(row, "first_response") if row else _NO_SECONDS,
            )
        )
    return days


_NO_SECONDS = SecondsFigures(avg=None, p50=None, p90=None, max=None)


def report_heatmap(period: Period) -> dict[tuple[int, int], int]:
    """Conversations started per (ISO weekday 1-7, local hour 0-23); only the cells with any."""
    local = local_start_fields(zone=period.business_line.time_zone)
    cells = (
        period_conversations(period)
        .annotate(local_weekday=local["local_weekday"], local_hour=local["local_hour"])
        .order_by()
        .values_list("local_weekday", "local_hour")
        .annotate(count=Count("id"))
    )
    return {(weekday, hour): count for weekday, hour, count in cells}


def report_ratings(period: Period) -> dict[int, int]:
    """Rated conversations per rating, 1 to 5 (0 when none)."""
    counts = dict.fromkeys(range(1, 6), 0)
    rated = period_conversations(period).filter(rating__isnull=False).order_by().values_list("rating")
    for rating, count in rated.annotate(count=Count("id")):
        counts[rating] = count
    return counts


# The floor now


def local_day_start(business_line: BusinessLine, *, at: datetime) -> datetime:
    """Midnight of `at`'s day in the business line's time zone."""
    zone = zoneinfo.ZoneInfo(business_line.time_zone)
    return datetime.combine(at.astimezone(zone).date(), time(), tzinfo=zone)


def floor_monitor(business_line: BusinessLine) -> Monitor:
    """The business line at this moment: its queue, its active chats, what was missed since local midnight, and
    its team. An agent counts as online only while they chose it and have a live socket (`agents.presence`)."""
    now = timezone.now()
    line_conversations = Conversation.objects.filter(business_line=business_line)
    figures = line_conversations.aggregate(
        waiting=Count("id", filter=Q(status=ConversationStatus.WAITING)),
        oldest_waiting=Min("started_at", filter=Q(status=ConversationStatus.WAITING)),
        active=Count("id", filter=Q(status=ConversationStatus.ACTIVE)),
        missed_today=Count("id", filter=Q(missed_at__gte=local_day_start(business_line, at=now))),
    )
    team = list(
        Agent.objects.filter(business_lines=business_line)
        .annotate(load=Count("conversations", filter=Q(conversations__status=ConversationStatus.ACTIVE)))
        .order_by("display_name", "id")
    )
    connected = presence.connected_agent_ids(agent.pk for agent in team)
    oldest: datetime | None = figures["oldest_waiting"]
    return Monitor(
        waiting=figures["waiting"],
        longest_wait_seconds=_rounded((now - oldest).total_seconds()) if oldest is not None else None,
        active=figures["active"],
        missed_today=figures["missed_today"],
        agents=[
            MonitorAgent(
                id=agent.pk,
                name=agent.display_name,
                status=agent.presence if agent.pk in connected else Presence.OFFLINE.value,
                load=agent.load,
                capacity=agent.capacity,
            )
            for agent in team
        ],
    )


def business_lines_for_reports() -> QuerySet[BusinessLine]:
    """Every business line, by name: a supervisor reads all of them."""
    return BusinessLine.objects.order_by("name", "id")


def business_line_by_key(*, key: str) -> BusinessLine | None:
    return BusinessLine.objects.filter(key=key).first()
