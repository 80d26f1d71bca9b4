"""The reports page's SVG shapes (reports/charts.py): what each shape says and which conversations it opens."""

from datetime import date

import pytest

from reports.charts import axis_duration, duration_label, heatmap_chart, ratings_chart, timing_chart, volume_chart

NOTHING = {"avg": None, "p50": None, "p90": None, "max": None}


def link(**narrowed) -> str:
    return "?" + "&".join(f"{key}={value}" for key, value in sorted(narrowed.items()))


def day(n: int, web: int, app: int, wait: float | None = None) -> dict:
    return {
        "date": date(2026, 3, n),
        "conversations": web + app,
        "by_channel": {"web": web, "h5": 0, "app": app},
        "wait_seconds": {"avg": wait, "p50": wait, "p90": wait, "max": wait},
        "first_response_seconds": NOTHING,
    }


@pytest.mark.parametrize(
    "seconds, label",
    [(None, "-"), (0, "0 s"), (4.25, "4.2 s"), (45.4, "45 s"), (65, "1 min 05 s"), (7800, "2 h 10 min")],
)
def test_durations_read_as_people_read_them(seconds, label):
    assert duration_label(seconds) == label


def test_axis_ticks_stay_short():
    assert [axis_duration(s) for s in (0, 150, 750, 36_000)] == ["0 s", "150 s", "12.5 min", "10 h"]


def test_volume_stacks_channels_per_day_and_links_each_segment():
    chart = volume_chart([day(2, 3, 1), day(3, 0, 0)], ["web", "h5", "app"], link)

    assert [(s["css"], s["title"], s["href"]) for s in chart["segments"]] == [
        ("series-web", "2026-03-02 web: 3 conversations", "?channel=web&day=2026-03-02"),
        ("series-app", "2026-03-02 app: 1 conversation", "?channel=app&day=2026-03-02"),
    ]
    web, app = chart["segments"]
    assert app["y"] + app["height"] == web["y"]  # app sits on web
    assert [tick["text"] for tick in chart["y_ticks"]] == ["0", "1.25", "2.5", "3.75", "5"]


def test_timing_lines_break_where_a_day_has_nothing_to_measure():
    chart = timing_chart([day(2, 1, 0, 30.0), day(3, 0, 0), day(4, 1, 0, 60.0), day(5, 1, 0, 50.0)], link)

    wait = chart["series"][0]
    assert len(wait["lines"]) == 2
    assert [p["href"] for p in wait["points"]] == ["?day=2026-03-02", "?day=2026-03-04", "?day=2026-03-05"]
    assert chart["series"][1]["points"] == []


def test_the_heatmap_links_only_cells_with_conversations():
    chart = heatmap_chart({(1, 9): 4, (7, 23): 1}, link)

    linked = [(c["title"], c["href"], c["opacity"]) for c in chart["cells"] if c["href"]]
    assert linked == [
        ("Monday 09:00-09:59: 4", "?hour=9&weekday=1", 1.0),
        ("Sunday 23:00-23:59: 1", "?hour=23&weekday=7", 0.34),
    ]
    assert len(chart["cells"]) == 7 * 24


def test_ratings_run_from_five_down_and_link_the_rated():
    chart = ratings_chart({1: 0, 2: 1, 3: 0, 4: 2, 5: 4}, link)

    assert [(b["rating"], b["count"], b["href"]) for b in chart["bars"]] == [
        (5, 4, "?rating=5"),
        (4, 2, "?rating=4"),
        (3, 0, ""),
        (2, 1, "?rating=2"),
        (1, 0, ""),
    ]
