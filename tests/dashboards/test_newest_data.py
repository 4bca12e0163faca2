"""Every range shows the newest data: 7 d and 30 d read hourly rollups and 1 y daily ones, which the hourly task
writes only once an hour; the hours it has not rolled up yet (or all of them, on a portal whose rollup task has not
run) come from the raw rows, so a long range is never emptier at its end than the 1-hour range."""

from __future__ import annotations

from datetime import timedelta

import pytest

from dashboards.ranges import time_range_parse
from dashboards.selectors import dashboard_history
from monitoring.history import utc_day
from monitoring.models import MetricDailyRollup, MetricRollup
from performance.models import RequestRollup
from tests.dashboards.conftest import seed_history

pytestmark = pytest.mark.django_db


def charts_of(key: str) -> dict[str, dict]:
    return {chart["id"]: chart for chart in dashboard_history(time_range=time_range_parse(key=key))["charts"]}


def newest_x(chart: dict) -> int | None:
    """The newest x that has a value in any series."""
    return max((x for index, x in enumerate(chart["x"])
                if any(series["values"][index] is not None for series in chart["series"])), default=None)


@pytest.mark.parametrize("key", ["7d", "30d", "1y"])
def test_without_any_rollup_a_long_range_shows_the_raw_hours(key):
    now = seed_history(days=2, raw_days=1)
    MetricRollup.objects.all().delete()  # a fresh portal: the hourly task has not run yet
    MetricDailyRollup.objects.all().delete()
    RequestRollup.objects.all().delete()
    charts = charts_of(key)
    step = 86400 if key == "1y" else 3600
    for chart_id in ["cpu", "memory", "disk", "db_size", "queues", "request_latency"]:
        newest = newest_x(charts[chart_id])
        assert newest is not None, f"{chart_id} shows 'No data in this range' for {key}"
        assert newest >= int(now.timestamp()) // step * step - step, f"{chart_id} misses the newest hours"
    assert len(charts["cpu"]["series"]) == 2  # web-1 and worker-1, found in the raw samples


def test_the_hours_after_the_newest_rollup_come_from_the_raw_samples():
    now = seed_history(days=10, raw_days=1)
    cutoff = (now - timedelta(hours=5)).replace(minute=0, second=0, microsecond=0)
    MetricRollup.objects.filter(hour__gt=cutoff).delete()
    RequestRollup.objects.filter(hour__gt=cutoff).delete()
    charts = charts_of("7d")
    this_hour = int(now.timestamp()) // 3600 * 3600
    for chart_id in ["cpu", "db_size", "request_latency"]:
        assert newest_x(charts[chart_id]) >= this_hour - 3600, chart_id
        hours = set(charts[chart_id]["x"])
        assert all(hour in hours for hour in range(int(cutoff.timestamp()), this_hour - 3600, 3600)), chart_id


def test_a_year_shows_today_even_before_its_daily_row():
    now = seed_history(days=3, raw_days=1)
    MetricDailyRollup.objects.filter(day__gte=utc_day(now)).delete()
    assert newest_x(charts_of("1y")["cpu"]) == int(utc_day(now).timestamp())


@pytest.mark.parametrize("key", ["7d", "1y"])
def test_the_status_timeline_shows_the_hours_not_rolled_up_yet(key):
    from monitoring.models import CheckDailyRollup, CheckRollup

    now = seed_history(days=3, raw_days=1)
    cutoff = (now - timedelta(hours=4)).replace(minute=0, second=0, microsecond=0)
    CheckRollup.objects.filter(hour__gt=cutoff).delete()
    CheckDailyRollup.objects.filter(day__gte=utc_day(now)).delete()
    timeline = {row["check"]: row["bands"] for row in
                dashboard_history(time_range=time_range_parse(key=key))["timeline"]}
    step = 86400 if key == "1y" else 3600
    newest_bin = int(now.timestamp()) // step * step
    bands = timeline["database"]
    assert bands[-1][0] == newest_bin and bands[-1][1] is not None
    if key == "7d":  # each of the hours after the last rollup is one band, its counts from the raw results
        assert [band[0] for band in bands if band[0] > cutoff.timestamp()] == list(
            range(int(cutoff.timestamp()) + 3600, newest_bin + 1, 3600))
