"""Daily rollups: computed from the hourly ones per UTC day, kept current, pruned, seeded, backfilled and read by the
long-range queries."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.db.models import F, Max, Min, Sum
from django.db.models.functions import TruncDay

from monitoring.history import health_history_prune, health_history_rollup, health_history_rollup_daily
from monitoring.models import (
    CheckDailyRollup,
    CheckResult,
    CheckRollup,
    HealthSnapshot,
    MetricDailyRollup,
    MetricRollup,
    MetricSample,
    Status,
)
from monitoring.selectors import check_status_all, check_status_history, metric_series, metric_series_many

pytestmark = pytest.mark.django_db

DAY = datetime(2026, 11, 1, tzinfo=UTC)


def _hourly_metric(hour: datetime, *, count: int, minimum: float, average: float, maximum: float,
                   name: str = "cpu_percent", labels: str = "host=a") -> MetricRollup:
    return MetricRollup.objects.create(hour=hour, name=name, labels=labels, count=count, minimum=minimum,
                                       average=average, maximum=maximum)


def _hourly_check(hour: datetime, *, ok: int, warning: int = 0, critical: int = 0, duration: float = 1.0,
                  check_name: str = "database", host: str = "") -> CheckRollup:
    return CheckRollup.objects.create(hour=hour, check_name=check_name, host=host, ok_count=ok, warning_count=warning,
                                      critical_count=critical, average_duration_ms=duration)


def _snapshot(at: datetime, *, value: float, status: str = Status.OK, duration: float = 2.0) -> None:
    snapshot = HealthSnapshot.objects.create(taken_at=at, status=status, duration_ms=10)
    CheckResult.objects.create(snapshot=snapshot, taken_at=at, check_name="database", status=status,
                               duration_ms=duration)
    MetricSample.objects.create(snapshot=snapshot, taken_at=at, name="cpu_percent", labels="host=a", value=value)


def test_a_day_is_the_count_weighted_aggregate_of_its_utc_hours(settings):
    settings.TIME_ZONE = "Asia/Tokyo"  # days are UTC days whatever the display time zone
    _hourly_metric(DAY, count=1, minimum=10, average=10, maximum=10)
    _hourly_metric(DAY + timedelta(hours=23), count=3, minimum=20, average=30, maximum=50)
    _hourly_metric(DAY + timedelta(hours=24), count=60, minimum=1, average=1, maximum=1)  # the next UTC day
    _hourly_check(DAY + timedelta(hours=2), ok=58, warning=1, critical=1, duration=10)
    _hourly_check(DAY + timedelta(hours=3), ok=20, duration=40)

    written = health_history_rollup_daily(since=DAY, until=DAY + timedelta(days=2))

    assert written == 3
    first = MetricDailyRollup.objects.get(day=DAY)
    # (10 x 1 + 30 x 3) / 4, not the plain mean of the two hours (20)
    assert (first.count, first.minimum, first.average, first.maximum) == (4, 10, 25, 50)
    second = MetricDailyRollup.objects.get(day=DAY + timedelta(days=1))
    assert (second.count, second.average) == (60, 1)
    checks = CheckDailyRollup.objects.get()
    assert (checks.day, checks.ok_count, checks.warning_count, checks.critical_count) == (DAY, 78, 1, 1)
    assert checks.average_duration_ms == pytest.approx((10 * 60 + 40 * 20) / 80)  # weighted by results


def test_the_hourly_rollup_keeps_the_current_day_up_to_date_and_is_idempotent():
    hour = DAY + timedelta(hours=10)
    _snapshot(hour, value=10, duration=2)
    _snapshot(hour + timedelta(minutes=30), value=20, duration=4)
    assert health_history_rollup(since=hour, until=hour + timedelta(hours=1)) == 4  # 2 hourly + 2 daily rows
    today = MetricDailyRollup.objects.get()
    assert (today.day, today.count, today.average, today.maximum) == (DAY, 2, 15, 20)

    # The next hour completes: the same (partial) day row grows, nothing else appears.
    _snapshot(hour + timedelta(hours=1), value=60, status=Status.CRITICAL, duration=12)
    health_history_rollup(until=hour + timedelta(hours=2))
    today = MetricDailyRollup.objects.get()
    assert (today.count, today.minimum, today.average, today.maximum) == (3, 10, 30, 60)
    checks = CheckDailyRollup.objects.get()
    assert (checks.ok_count, checks.critical_count, checks.average_duration_ms) == (2, 1, 6)

    # Running the same hours again rewrites the same rows.
    health_history_rollup(since=hour, until=hour + timedelta(hours=2))
    assert MetricDailyRollup.objects.count() == 1 and CheckDailyRollup.objects.count() == 1
    assert MetricDailyRollup.objects.get().average == 30


def test_an_hour_after_midnight_starts_a_new_day_and_leaves_yesterday_whole():
    _snapshot(DAY + timedelta(hours=23, minutes=10), value=4)
    health_history_rollup(since=DAY + timedelta(hours=23), until=DAY + timedelta(hours=24))
    _snapshot(DAY + timedelta(hours=24, minutes=10), value=8)
    health_history_rollup(until=DAY + timedelta(hours=25))
    assert list(MetricDailyRollup.objects.order_by("day").values_list("day", "count", "average")) == [
        (DAY, 1, 4), (DAY + timedelta(days=1), 1, 8)]


def test_prune_drops_a_daily_row_only_when_its_whole_day_is_past_the_retention(settings):
    settings.MONITOR_ROLLUP_RETENTION = timedelta(days=365)
    now = DAY + timedelta(hours=10)
    cutoff_day = DAY - timedelta(days=365)  # the cutoff, now - 365 days, is 10:00 on this day
    for day in (cutoff_day - timedelta(days=1), cutoff_day, cutoff_day + timedelta(days=1)):
        MetricDailyRollup.objects.create(day=day, name="cpu_percent", labels="host=a", count=24, minimum=1, average=1,
                                         maximum=1)
        CheckDailyRollup.objects.create(day=day, check_name="database", host="", ok_count=24, warning_count=0,
                                        critical_count=0, average_duration_ms=1)
    deleted = health_history_prune(now=now)
    assert deleted["metric_daily_rollups"] == 1 and deleted["check_daily_rollups"] == 1
    kept = [cutoff_day, cutoff_day + timedelta(days=1)]
    assert sorted(MetricDailyRollup.objects.values_list("day", flat=True)) == kept
    assert sorted(CheckDailyRollup.objects.values_list("day", flat=True)) == kept


def _days_from_hourly_metrics() -> dict[tuple, tuple]:
    rows = (MetricRollup.objects.annotate(d=TruncDay("hour", tzinfo=UTC)).values("d", "name", "labels")
            .annotate(n=Sum("count"), low=Min("minimum"), high=Max("maximum"), weighted=Sum(F("average") * F("count"))))
    return {(row["d"], row["name"], row["labels"]): (row["n"], row["low"], row["weighted"] / row["n"], row["high"])
            for row in rows}


def _daily_metrics() -> dict[tuple, tuple]:
    return {(row.day, row.name, row.labels): (row.count, row.minimum, row.average, row.maximum)
            for row in MetricDailyRollup.objects.all()}


def _assert_daily_matches_hourly() -> None:
    expected, stored = _days_from_hourly_metrics(), _daily_metrics()
    assert stored.keys() == expected.keys()
    for key, (count, minimum, average, maximum) in expected.items():
        assert stored[key] == (count, minimum, pytest.approx(average), maximum)
    hourly_checks = (CheckRollup.objects.annotate(d=TruncDay("hour", tzinfo=UTC)).values("d", "check_name", "host")
                     .annotate(ok=Sum("ok_count"), warning=Sum("warning_count"), critical=Sum("critical_count")))
    assert {(row["d"], row["check_name"], row["host"]): (row["ok"], row["warning"], row["critical"])
            for row in hourly_checks} == {
        (row.day, row.check_name, row.host): (row.ok_count, row.warning_count, row.critical_count)
        for row in CheckDailyRollup.objects.all()}


def test_seeddemo_fills_the_daily_rollups_of_the_seeded_days():
    call_command("seeddemo", "--days", "3", "--raw-days", "1", "--hosts", "a,b", stdout=io.StringIO())
    # 3 days from a moment inside an hour touch 4 UTC days (3 when seeded right after midnight)
    assert MetricDailyRollup.objects.filter(name="cpu_percent", labels="host=demo-a").count() in (3, 4)
    assert CheckDailyRollup.objects.filter(check_name="disk", host="demo-b").count() in (3, 4)
    _assert_daily_matches_hourly()


def test_the_migration_backfills_daily_rows_from_existing_hourly_rollups():
    executor = MigrationExecutor(connection)
    latest = executor.loader.graph.leaf_nodes("monitoring")
    executor.migrate([("monitoring", "0003_daily_rollups")])  # tables exist, backfill not yet run
    for offset, value in enumerate([5.0, 7.0, 9.0]):
        _hourly_metric(DAY + timedelta(hours=22 + offset), count=offset + 1, minimum=value, average=value,
                       maximum=value)
        _hourly_check(DAY + timedelta(hours=22 + offset), ok=offset + 1, duration=value)
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(latest)
    assert MetricDailyRollup.objects.count() == 2 and CheckDailyRollup.objects.count() == 2
    _assert_daily_matches_hourly()
    assert MetricDailyRollup.objects.get(day=DAY).average == 19 / 3  # (5 x 1 + 7 x 2) / 3


def _daily_metric(day: datetime, value: float) -> MetricDailyRollup:
    return MetricDailyRollup.objects.create(day=day, name="cpu_percent", labels="host=a", count=1440, minimum=value,
                                            average=value, maximum=value)


def _daily_check(day: datetime, *, critical: int, check_name: str = "database", host: str = "") -> CheckDailyRollup:
    return CheckDailyRollup.objects.create(day=day, check_name=check_name, host=host, ok_count=1440 - critical,
                                           warning_count=0, critical_count=critical, average_duration_ms=1)


def test_ranges_over_31_days_read_the_daily_rows_whole_days_from_the_start_day():
    start, end = DAY - timedelta(days=60) + timedelta(hours=15), DAY + timedelta(hours=6)
    # Daily rows only, no hourly ones: what the long range shows comes from the daily tier.
    _daily_metric(DAY - timedelta(days=61), 1)  # before the start's day: left out
    _daily_metric(DAY - timedelta(days=60), 2)  # the start's day: whole, though the range starts at 15:00
    _daily_metric(DAY - timedelta(days=30), 3)
    _daily_metric(DAY, 4)  # today, partial: included
    _daily_metric(DAY + timedelta(days=1), 5)  # after the end: left out
    points = metric_series(name="cpu_percent", labels="host=a", start=start, end=end)
    assert points == [{"t": DAY - timedelta(days=60), "avg": 2, "min": 2, "max": 2},
                      {"t": DAY - timedelta(days=30), "avg": 3, "min": 3, "max": 3},
                      {"t": DAY, "avg": 4, "min": 4, "max": 4}]
    assert metric_series_many(series=[("cpu_percent", "host=a")], start=start, end=end) == {
        ("cpu_percent", "host=a"): points}
    # Hourly rows the daily rows already hold are not read again at this range...
    _hourly_metric(DAY - timedelta(days=30) + timedelta(hours=3), count=60, minimum=9, average=9, maximum=9)
    assert metric_series(name="cpu_percent", labels="host=a", start=start, end=end) == points
    # ...but hourly rows after a series' newest daily row (not rolled up into days yet) are its newest points.
    _hourly_metric(DAY - timedelta(days=10), count=60, minimum=9, average=9, maximum=9, labels="host=b")
    assert metric_series(name="cpu_percent", labels="host=b", start=start, end=end) == [
        {"t": DAY - timedelta(days=10), "avg": 9, "min": 9, "max": 9}]

    _daily_check(DAY - timedelta(days=61), critical=9)
    _daily_check(DAY - timedelta(days=60), critical=1)
    _daily_check(DAY, critical=0)
    assert check_status_history(check_name="database", start=start, end=end) == [
        {"t": DAY - timedelta(days=60), "ok": 1439, "warning": 0, "critical": 1},
        {"t": DAY, "ok": 1440, "warning": 0, "critical": 0}]


def test_ranges_up_to_31_days_still_read_hourly_rows():
    start, end = DAY - timedelta(days=7), DAY
    _daily_metric(DAY - timedelta(days=3), 4)
    _hourly_metric(DAY - timedelta(days=3) + timedelta(hours=5), count=60, minimum=1, average=2, maximum=3)
    assert metric_series(name="cpu_percent", labels="host=a", start=start, end=end) == [
        {"t": DAY - timedelta(days=3) + timedelta(hours=5), "avg": 2, "min": 1, "max": 3}]


def test_every_check_at_once_reads_the_tier_of_the_range():
    _daily_check(DAY - timedelta(days=40), critical=0, check_name="disk", host="b")
    _daily_check(DAY - timedelta(days=40), critical=0, check_name="disk", host="a")
    _daily_check(DAY - timedelta(days=41), critical=0, check_name="disk", host="a")
    _daily_check(DAY - timedelta(days=100), critical=0, check_name="memory", host="a")  # before the range
    _hourly_check(DAY - timedelta(days=5), ok=60, check_name="celery")
    _hourly_check(DAY - timedelta(days=10), ok=60, check_name="redis")  # before the 7-day range
    year = check_status_all(start=DAY - timedelta(days=60), end=DAY)
    # Hourly rows after the newest daily row (not rolled up into days yet) are the year's newest days.
    assert list(year) == [("celery", ""), ("disk", "a"), ("disk", "b"), ("redis", "")]
    assert year[("celery", "")] == [(int((DAY - timedelta(days=5)).timestamp()), 60, 0, 0)]
    assert [point[0] for point in year[("disk", "a")]] == [
        int((DAY - timedelta(days=days)).timestamp()) for days in (41, 40)]
    week = check_status_all(start=DAY - timedelta(days=7), end=DAY)
    assert list(week) == [("celery", "")]
    assert week[("celery", "")] == [(int((DAY - timedelta(days=5)).timestamp()), 60, 0, 0)]
