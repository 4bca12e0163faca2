"""The dashboard's long ranges reuse their rollup part until a new rollup arrives; short ranges always read."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from dashboards.ranges import TimeRange
from dashboards.selectors import _rollup_cache_key, dashboard_history
from monitoring.history import health_history_rollup_daily
from monitoring.models import MetricRollup

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 28, 12, 34, tzinfo=UTC)


def rollup(hour: datetime, value: float) -> MetricRollup:
    """An hour rolled up as the hourly task does it: the hourly row, then its day's daily row (read past 31 days)."""
    row = MetricRollup.objects.create(hour=hour, name="cpu_percent", labels="host=web-1", count=60, minimum=value,
                                      average=value, maximum=value)
    health_history_rollup_daily(since=hour, until=hour + timedelta(hours=1))
    return row


def test_within_the_hour_a_year_has_one_key_and_a_new_rollup_makes_a_new_one():
    rollup(datetime(2026, 11, 28, 10, tzinfo=UTC), 10)
    year = timedelta(days=365)
    first = _rollup_cache_key(start=NOW - year, end=NOW)
    assert _rollup_cache_key(start=NOW - year + timedelta(minutes=20), end=NOW + timedelta(minutes=20)) == first
    rollup(datetime(2026, 11, 28, 11, tzinfo=UTC), 20)
    assert _rollup_cache_key(start=NOW - year, end=NOW) != first
    assert _rollup_cache_key(start=NOW - timedelta(hours=1), end=NOW) is None  # raw samples: never cached


def test_a_new_rollup_shows_on_the_next_request(time_machine):
    time_machine.move_to(NOW, tick=False)
    rollup(datetime(2026, 11, 20, 10, tzinfo=UTC), 10)
    year = TimeRange("1y", NOW - timedelta(days=365), NOW)

    def cpu() -> list:
        (chart,) = [chart for chart in dashboard_history(time_range=year)["charts"] if chart["id"] == "cpu"]
        return chart["series"][0]["values"]

    assert cpu() == [10]
    rollup(datetime(2026, 11, 28, 11, tzinfo=UTC), 20)
    assert cpu() == [10, 20]


def test_the_hourly_rollup_warms_the_long_ranges_for_the_next_viewer(time_machine):
    from django.core.cache import cache

    from dashboards.ranges import time_range_parse
    from monitoring.history import health_history_rollup_and_prune

    time_machine.move_to(NOW, tick=False)
    cache.clear()
    rollup(datetime(2026, 11, 20, 10, tzinfo=UTC), 40)
    health_history_rollup_and_prune()  # the hourly task: sends rollups_written, the dashboards warm their cache
    for key in ("7d", "30d", "1y"):
        time_range = time_range_parse(key=key)
        warmed = cache.get(_rollup_cache_key(start=time_range.start, end=time_range.end))
        assert warmed is not None, key
    charts, _rows = cache.get(_rollup_cache_key(start=NOW - timedelta(days=365), end=NOW))
    (cpu,) = [chart for chart in charts if chart["id"] == "cpu"]
    assert cpu["series"][0]["values"] == [40]
