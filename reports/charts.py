"""The reports page's charts as SVG shapes, computed here and drawn by the page's template (docs/reports.md, "The
reports page"): no script, no chart library, nothing from a CDN; the Content-Security-Policy holds as it is.

Every function takes figures already read by `reports.selectors` and a `link` for the conversations behind each
shape (the admin's filtered transcript list), and returns plain dicts: positions in SVG user units, a CSS class
(colours live in the stylesheet), a title (the tooltip and the accessible name) and the link.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from datetime import date
from typing import Any

from django.utils.dates import WEEKDAYS, WEEKDAYS_ABBR
from django.utils.translation import gettext, gettext_lazy, ngettext

from reports.selectors import DayFigures, SecondsFigures

WIDTH = 760
HEIGHT = 240
LEFT = 56  # room for the y axis' labels
RIGHT = 12
TOP = 12
BOTTOM = 36  # room for the dates
HEAT_CELL = 28
HEAT_LEFT = 40
HEAT_TOP = 22

Link = Callable[..., str]


def _nice_ceiling(value: float) -> float:
    """The axis' top: 1, 2, 2.5 or 5 times a power of ten, at least `value` (1 for nothing)."""
    if value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    return next(step * power for step in (1, 2, 2.5, 5, 10) if step * power >= value)


def _ticks(top: float, count: int = 4) -> list[float]:
    return [top * i / count for i in range(count + 1)]


def duration_label(seconds: float | None) -> str:
    """A duration as people read it: `45 s`, `3 min 05 s`, `2 h 10 min`; `-` for nothing to measure."""
    if seconds is None:
        return "-"
    whole = round(seconds)
    if whole < 60:
        return f"{seconds:.0f} s" if seconds >= 10 or seconds == whole else f"{seconds:.1f} s"
    minutes, secs = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def durations_label(figures: SecondsFigures) -> dict[str, str]:
    """`duration_label` of each of a timing's average, median, 90th percentile and maximum."""
    return {
        "avg": duration_label(figures["avg"]),
        "p50": duration_label(figures["p50"]),
        "p90": duration_label(figures["p90"]),
        "max": duration_label(figures["max"]),
    }


def axis_duration(seconds: float) -> str:
    """A tick of a duration axis, short enough for its margin: `150 s`, `12.5 min`, `1.5 h`."""
    if seconds < 600:
        return f"{seconds:.3g} s"
    if seconds < 36_000:
        return f"{seconds / 60:.3g} min"
    return f"{seconds / 3600:.3g} h"


def _x_labels(days: Sequence[date], slot: float) -> list[dict[str, Any]]:
    """At most about 12 dates under the x axis."""
    every = max(1, math.ceil(len(days) / 12))
    return [
        {"x": round(LEFT + slot * (i + 0.5), 1), "y": HEIGHT - BOTTOM + 16, "text": f"{day:%m-%d}"}
        for i, day in enumerate(days)
        if i % every == 0
    ]


def volume_chart(days: Sequence[DayFigures], channels: Sequence[str], link: Link) -> dict[str, Any]:
    """Conversations started per local day, stacked by channel; each segment opens its conversations."""
    plot_width = WIDTH - LEFT - RIGHT
    plot_height = HEIGHT - TOP - BOTTOM
    top = _nice_ceiling(max((day["conversations"] for day in days), default=0))
    slot = plot_width / max(len(days), 1)
    bar = max(slot * 0.7, 1.0)
    segments = []
    for i, day in enumerate(days):
        base = 0
        for channel in channels:
            count = day["by_channel"][channel]
            if not count:
                continue
            height = plot_height * count / top
            y = TOP + plot_height * (1 - (base + count) / top)
            segments.append(
                {
                    "x": round(LEFT + slot * i + (slot - bar) / 2, 1),
                    "y": round(y, 1),
                    "width": round(bar, 1),
                    "height": round(height, 1),
                    "css": f"series-{channel}",
                    "title": ngettext(
                        "%(day)s %(channel)s: %(count)s conversation",
                        "%(day)s %(channel)s: %(count)s conversations",
                        count,
                    )
                    % {"day": f"{day['date']:%Y-%m-%d}", "channel": channel, "count": count},
                    "href": link(day=day["date"], channel=channel),
                }
            )
            base += count
    return {
        "width": WIDTH,
        "height": HEIGHT,
        "segments": segments,
        "y_ticks": [{"y": round(TOP + plot_height * (1 - tick / top), 1), "text": f"{tick:g}"} for tick in _ticks(top)],
        "x_labels": _x_labels([day["date"] for day in days], slot),
        "left": LEFT,
        "right": WIDTH - RIGHT,
        "bottom": HEIGHT - BOTTOM,
        "legend": [{"css": f"series-{channel}", "text": channel} for channel in channels],
    }


TIMING_SERIES = (
    ("wait_seconds", gettext_lazy("Wait"), "series-wait"),
    ("first_response_seconds", gettext_lazy("First response"), "series-reply"),
)


def timing_chart(days: Sequence[DayFigures], link: Link) -> dict[str, Any]:
    """The median wait and first response of the conversations started each local day (a gap where there is
    nothing to measure); each point opens that day's conversations."""
    plot_width = WIDTH - LEFT - RIGHT
    plot_height = HEIGHT - TOP - BOTTOM
    values = [day[key]["p50"] for day in days for key, _, _ in TIMING_SERIES]  # type: ignore[literal-required]
    top = _nice_ceiling(max((v for v in values if v is not None), default=0))
    slot = plot_width / max(len(days), 1)
    series = []
    for key, label, css in TIMING_SERIES:
        lines: list[list[str]] = [[]]
        points = []
        for i, day in enumerate(days):
            figures: Mapping[str, float | None] = day[key]  # type: ignore[literal-required]
            median = figures["p50"]
            if median is None:
                if lines[-1]:
                    lines.append([])
                continue
            x = round(LEFT + slot * (i + 0.5), 1)
            y = round(TOP + plot_height * (1 - median / top), 1)
            lines[-1].append(f"{x},{y}")
            points.append(
                {
                    "x": x,
                    "y": y,
                    "title": gettext("%(day)s %(series)s: median %(median)s, 90th percentile %(p90)s")
                    % {
                        "day": f"{day['date']:%Y-%m-%d}",
                        "series": str(label).lower(),
                        "median": duration_label(median),
                        "p90": duration_label(figures["p90"]),
                    },
                    "href": link(day=day["date"]),
                }
            )
        series.append(
            {"css": css, "label": label, "lines": [" ".join(line) for line in lines if line], "points": points}
        )
    return {
        "width": WIDTH,
        "height": HEIGHT,
        "series": series,
        "y_ticks": [
            {"y": round(TOP + plot_height * (1 - tick / top), 1), "text": axis_duration(tick)} for tick in _ticks(top)
        ],
        "x_labels": _x_labels([day["date"] for day in days], slot),
        "left": LEFT,
        "right": WIDTH - RIGHT,
        "bottom": HEIGHT - BOTTOM,
        "legend": [
            {"css": css, "text": gettext("%(series)s (median)") % {"series": label}} for _, label, css in TIMING_SERIES
        ],
    }


def heatmap_chart(cells: Mapping[tuple[int, int], int], link: Link) -> dict[str, Any]:
    """Conversations started per local weekday (rows, Monday first) and hour (columns); darker is more. Each
    cell with any opens them."""
    most = max(cells.values(), default=0)
    rects = []
    for weekday in range(1, 8):
        for hour in range(24):
            count = cells.get((weekday, hour), 0)
            rects.append(
                {
                    "x": HEAT_LEFT + hour * HEAT_CELL,
                    "y": HEAT_TOP + (weekday - 1) * HEAT_CELL,
                    "size": HEAT_CELL - 2,
                    # An SVG presentation attribute, not a style: the CSP allows it.
                    "opacity": round(0.12 + 0.88 * count / most, 3) if count else 0,
                    "title": f"{WEEKDAYS[weekday - 1]} {hour:02d}:00-{hour:02d}:59: {count}",
                    "href": link(weekday=weekday, hour=hour) if count else "",
                }
            )
    return {
        "width": HEAT_LEFT + 24 * HEAT_CELL,
        "height": HEAT_TOP + 7 * HEAT_CELL,
        "cells": rects,
        "rows": [
            {"y": HEAT_TOP + (weekday - 1) * HEAT_CELL + HEAT_CELL / 2 + 4, "text": str(WEEKDAYS_ABBR[weekday - 1])}
            for weekday in range(1, 8)
        ],
        "columns": [
            {"x": HEAT_LEFT + hour * HEAT_CELL + HEAT_CELL / 2 - 1, "text": f"{hour:02d}"} for hour in range(24)
        ],
    }


def ratings_chart(ratings: Mapping[int, int], link: Link) -> dict[str, Any]:
    """How many conversations got each rating, 5 at the top; each bar opens them."""
    most = max(ratings.values(), default=0) or 1
    row, left, width = 30, 40, 420
    bars = []
    for index, rating in enumerate(range(5, 0, -1)):
        count = ratings[rating]
        bars.append(
            {
                "y": 8 + index * row,
                "label_y": 8 + index * row + 16,
                "width": round(width * count / most, 1),
                "count": count,
                "count_x": left + round(width * count / most, 1) + 6,
                "rating": rating,
                "css": "series-promoter" if rating >= 4 else "series-detractor",
                "title": gettext("Rated %(rating)s: %(count)s") % {"rating": rating, "count": count},
                "href": link(rating=rating) if count else "",
            }
        )
    return {"width": left + width + 60, "height": 8 + 5 * row, "left": left, "bar_height": row - 8, "bars": bars}
