"""Snapshots, hourly rollups, pruning and the queries that read them."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from monitoring.history import health_history_prune, health_history_rollup
from monitoring.models import (
    CheckResult,
    CheckRollup,
    HealthSnapshot,
    MetricDailyRollup,
    MetricRollup,
    MetricSample,
    Status,
)
from monitoring.selectors import check_status_history, health_overview, metric_series, metric_series_many
from monitoring.services import health_snapshot_take

HOUR = datetime(2026, 11, 1, 10, tzinfo=UTC)


def _snapshot(at: datetime, *, value: float, status: str = Status.OK) -> HealthSnapshot:
    snapshot = HealthSnapshot.objects.create(taken_at=at, status=status, duration_ms=10)
    CheckResult.objects.create(snapshot=snapshot, taken_at=at, check_name="database", status=status, duration_ms=2)
    MetricSample.objects.create(snapshot=snapshot, taken_at=at, name="cpu_percent", labels="host=a", value=value)
    return snapshot


@pytest.mark.django_db(transaction=True)
def test_a_snapshot_stores_every_result_and_metric(settings):
    settings.MONITOR_DISABLED_CHECKS = ["celery"]
    snapshot = health_snapshot_take()
    assert snapshot.status == Status.WARNING  # no backup yet
    results = {(row.check_name, row.host): row for row in snapshot.results.all()}
    assert results[("database", "")].status == Status.OK
    assert results[("disk", "web-test")].values
    assert snapshot.samples.filter(name="memory_used_percent", labels="host=web-test").count() == 1
    assert snapshot.samples.filter(name="health_check_status", labels="check=backups,host=").get().value == 1


@pytest.mark.django_db
def test_rollup_computes_min_avg_max_and_status_counts_per_hour():
    for minute, value in [(0, 10.0), (20, 20.0), (40, 60.0)]:
        _snapshot(HOUR + timedelta(minutes=minute), value=value,
                  status=Status.CRITICAL if minute == 40 else Status.OK)
    _snapshot(HOUR + timedelta(hours=1, minutes=5), value=99.0)  # next hour, still running: not rolled up
    written = health_history_rollup(since=HOUR, until=HOUR + timedelta(hours=1, minutes=30))
    assert written == 4  # one hourly and one daily row each for the metric and the check
    rollup = MetricRollup.objects.get()
    assert (rollup.hour, rollup.count, rollup.minimum, rollup.average, rollup.maximum) == (HOUR, 3, 10, 30, 60)
    checks = CheckRollup.objects.get()
    assert (checks.ok_count, checks.warning_count, checks.critical_count) == (2, 0, 1)
    # idempotent: a second run rewrites the same rows
    health_history_rollup(since=HOUR, until=HOUR + timedelta(hours=1, minutes=30))
    assert MetricRollup.objects.count() == 1 and CheckRollup.objects.count() == 1


@pytest.mark.django_db
def test_rollup_without_since_continues_after_the_newest_rollup():
    _snapshot(HOUR, value=1)
    _snapshot(HOUR + timedelta(hours=1), value=2)
    health_history_rollup(until=HOUR + timedelta(hours=1))
    assert list(MetricRollup.objects.values_list("hour", flat=True)) == [HOUR]
    health_history_rollup(until=HOUR + timedelta(hours=2))
    assert sorted(MetricRollup.objects.values_list("hour", flat=True)) == [HOUR, HOUR + timedelta(hours=1)]


@pytest.mark.django_db
def test_prune_keeps_raw_for_the_raw_retention_and_rollups_for_the_rollup_retention(settings):
    settings.MONITOR_RAW_RETENTION = timedelta(days=7)
    settings.MONITOR_ROLLUP_RETENTION = timedelta(days=365)
    now = HOUR + timedelta(days=30)
    old, recent = _snapshot(HOUR, value=1), _snapshot(now - timedelta(days=1), value=2)
    health_history_rollup(since=HOUR, until=now)
    MetricRollup.objects.create(hour=now - timedelta(days=400), name="cpu_percent", labels="host=a", count=1,
                                minimum=1, average=1, maximum=1)
    deleted = health_history_prune(now=now)
    assert deleted["snapshots"] == 1 and deleted["metric_rollups"] == 1
    assert list(HealthSnapshot.objects.all()) == [recent]
    assert not MetricSample.objects.filter(snapshot_id=old.pk).exists()
    assert MetricRollup.objects.filter(hour=HOUR).exists()  # the old hour survives as a rollup


@pytest.mark.django_db
def test_each_range_reads_the_resolution_a_chart_needs():
    now = timezone.now()
    call_command("seeddemo", "--days", "40", "--raw-days", "1", "--hosts", "a,b", stdout=io.StringIO())
    year = metric_series(name="cpu_percent", labels="host=demo-a", start=now - timedelta(days=365))
    assert 40 <= len(year) <= 42  # days, from the rollups
    assert all(point["min"] <= point["avg"] <= point["max"] for point in year)
    hourly = MetricRollup.objects.filter(name="cpu_percent", labels="host=demo-a", hour__date=year[5]["t"].date())
    assert year[5]["max"] == max(row.maximum for row in hourly)
    week = metric_series(name="cpu_percent", labels="host=demo-a", start=now - timedelta(days=7))
    assert 167 <= len(week) <= 169  # hours
    hour = metric_series(name="cpu_percent", labels="host=demo-a", start=now - timedelta(hours=1))
    assert 59 <= len(hour) <= 61  # raw minutes
    together = metric_series_many(series=[("cpu_percent", "host=demo-a"), ("memory_used_percent", "host=demo-b")],
                                  start=now - timedelta(days=365))
    assert together[("cpu_percent", "host=demo-a")] == year
    assert len(together[("memory_used_percent", "host=demo-b")]) == len(year)
    statuses = check_status_history(check_name="disk", host="demo-b", start=now - timedelta(days=365))
    assert 40 <= len(statuses) <= 42
    assert sum(row["ok"] + row["warning"] + row["critical"] for row in statuses) == 60 * CheckRollup.objects.filter(
        check_name="disk", host="demo-b").count()


@pytest.mark.django_db
def test_seeddemo_fills_snapshots_results_and_samples():
    call_command("seeddemo", "--days", "2", "--raw-days", "1", "--hosts", "web-1,worker-1",
                 stdout=io.StringIO())
    minutes = HealthSnapshot.objects.count()
    assert 1439 <= minutes <= 1441
    assert CheckResult.objects.count() == minutes * (5 + 2 * 4)
    assert MetricSample.objects.filter(name="disk_used_percent", labels="host=demo-worker-1,path=/").count() == minutes
    assert HealthSnapshot.objects.filter(status=Status.OK).count() > minutes * 0.8
    # new rows keep getting ids after the bulk load
    assert _snapshot(timezone.now(), value=1).pk > HealthSnapshot.objects.order_by("-pk")[1].pk


@pytest.mark.django_db
def test_seeddemo_marks_its_history_and_remove_takes_only_it_away():
    real = _snapshot(timezone.now() - timedelta(days=3), value=42)  # a real snapshot, with a real sample
    MetricRollup.objects.create(hour=HOUR, name="cpu_percent", labels="host=web-1", count=60, minimum=1, average=2,
                                maximum=3)
    call_command("seeddemo", "--days", "2", "--raw-days", "1", "--hosts", "web-1", stdout=io.StringIO())
    # Marked: demo hosts and series are named demo-…, the hostless checks run on "demo".
    assert set(MetricSample.objects.exclude(snapshot=real).values_list("labels", flat=True)) >= {
        "host=demo-web-1", "database=demo-default", "queue=demo-backups"}
    assert not MetricSample.objects.exclude(snapshot=real).filter(labels__in=["host=web-1", "database=default"])
    assert set(CheckResult.objects.exclude(snapshot=real).values_list("host", flat=True)) == {"demo", "demo-web-1"}
    assert MetricRollup.objects.filter(labels="host=web-1").count() == 1  # real rollups not replaced

    out = io.StringIO()
    call_command("seeddemo", "--remove", stdout=out)
    assert "removed" in out.getvalue()
    assert list(HealthSnapshot.objects.all()) == [real]
    assert real.results.count() == 1 and real.samples.count() >= 1
    assert list(MetricRollup.objects.values_list("labels", flat=True)) == ["host=web-1"]
    assert not CheckRollup.objects.exists() and not MetricDailyRollup.objects.exclude(labels="host=web-1").exists()


@pytest.mark.django_db
def test_overview_for_the_admin_index_shows_the_latest_snapshot_and_its_problems():
    assert health_overview()["snapshot"] is None
    _snapshot(HOUR, value=1)
    latest = _snapshot(HOUR + timedelta(minutes=1), value=1, status=Status.CRITICAL)
    CheckResult.objects.create(snapshot=latest, taken_at=latest.taken_at, check_name="disk", host="worker-1",
                               status=Status.WARNING, duration_ms=1)
    overview = health_overview()
    assert overview["snapshot"] == latest
    assert overview["status"] == Status.CRITICAL
    assert {(row.check_name, row.status) for row in overview["problems"]} == {("database", "critical"),
                                                                                ("disk", "warning")}
    assert overview["hosts"] == [("worker-1", "warning")]


@pytest.mark.django_db
def test_default_schedules_exist_on_the_monitoring_queue():
    tasks = {task.task: task for task in PeriodicTask.objects.filter(queue="monitoring")}
    assert tasks["monitoring.tasks.take_snapshot"].interval.every == 20  # alerts within 20 s beyond `for` (issue 16)
    assert tasks["monitoring.tasks.rollup_and_prune"].crontab.minute == "5"
    assert "monitoring.tasks.record_heartbeat" in tasks
