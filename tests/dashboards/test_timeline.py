"""The status timeline per check, the markers (backup runs, alert transitions) and the backup history chart."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from alerting.models import Alert, AlertRule, AlertTransition
from backups.models import BackupRun
from dashboards.timeline import backup_history_chart, backup_runs_in, check_timeline, history_markers
from monitoring.history import health_history_rollup_daily
from monitoring.models import CheckRollup, HealthSnapshot, Status

pytestmark = pytest.mark.django_db


def test_a_short_range_shows_every_snapshot_of_every_check():
    now = timezone.now()
    for minutes, disk in [(3, Status.OK), (2, Status.WARNING), (1, Status.CRITICAL)]:
        taken = now - timedelta(minutes=minutes)
        snapshot = HealthSnapshot.objects.create(taken_at=taken, status=disk, duration_ms=1)
        snapshot.results.create(taken_at=taken, check_name="disk", host="web-1", status=disk, duration_ms=1)
        snapshot.results.create(taken_at=taken, check_name="database", status=Status.OK, duration_ms=1)
    rows = {row["check"]: [band[1] for band in row["bands"]]
            for row in check_timeline(start=now - timedelta(hours=1), end=now)}
    assert rows == {"database": [0, 0, 0], "disk@web-1": [0, 1, 2]}


def test_a_day_shows_the_worst_status_of_each_five_minutes_and_how_often_it_was_not_ok():
    now = timezone.now()
    bin_start = (now - timedelta(hours=3)).replace(second=0, microsecond=0)
    bin_start -= timedelta(minutes=bin_start.minute % 5)
    for minute, status in enumerate([Status.OK, Status.WARNING, Status.OK, Status.OK, Status.OK]):
        taken = bin_start + timedelta(minutes=minute, seconds=5)
        snapshot = HealthSnapshot.objects.create(taken_at=taken, status=status, duration_ms=1)
        snapshot.results.create(taken_at=taken, check_name="redis", status=status, duration_ms=1)
    [row] = check_timeline(start=now - timedelta(hours=24), end=now)
    assert row["bands"] == [[int(bin_start.timestamp()), 1, pytest.approx(0.2)]]


def test_a_long_range_shows_the_worst_status_of_each_day():
    now = timezone.now()
    day = (now - timedelta(days=10)).replace(hour=0, minute=0, second=0, microsecond=0)
    for hour, (ok, warning, critical) in enumerate([(60, 0, 0), (59, 1, 0), (58, 1, 1)]):
        CheckRollup.objects.create(hour=day + timedelta(days=hour), check_name="celery", host="", ok_count=ok,
                                   warning_count=warning, critical_count=critical, average_duration_ms=2)
    health_history_rollup_daily(since=day, until=day + timedelta(days=3))  # as the hourly task does after each hour
    (row,) = check_timeline(start=now - timedelta(days=365), end=now)
    assert row["check"] == "celery"
    assert [band[1] for band in row["bands"]] == [0, 1, 2]
    assert [band[2] for band in row["bands"]] == [0, pytest.approx(1 / 60, abs=1e-4), pytest.approx(2 / 60, abs=1e-4)]
    assert row["bands"][1][0] - row["bands"][0][0] == 86400


def test_markers_show_backups_and_alert_changes_but_not_reminders():
    now = timezone.now()
    run = BackupRun.objects.create(status=BackupRun.Status.FAILED, started_at=now - timedelta(hours=2))
    rule = AlertRule.objects.create(name="disk almost full", kind="metric", metric_name="disk_used_percent",
                                    comparator="gt", threshold=90)
    alert = Alert.objects.create(rule=rule, labels={"host": "web-1"}, state="firing")
    for old, new, hours in [("pending", "firing", 3), ("firing", "firing", 2), ("firing", "resolved", 1)]:
        AlertTransition.objects.create(alert=alert, old_state=old, new_state=new,
                                       happened_at=now - timedelta(hours=hours))

    end = timezone.now()
    runs = backup_runs_in(start=end - timedelta(days=1), end=end)
    markers = history_markers(start=end - timedelta(days=1), end=end, runs=runs)
    assert [(m["kind"], m["state"]) for m in markers] == [("alert", "firing"), ("backup", "failed"),
                                                          ("alert", "resolved")]
    assert markers[1]["text"] == f"backup #{run.pk} failed"
    assert markers[0]["text"] == "alert disk almost full: firing"


def test_the_backup_chart_plots_size_and_duration_and_marks_failures():
    now = timezone.now()
    ok = BackupRun.objects.create(status="succeeded", total_bytes=7_000_000, started_at=now - timedelta(hours=5),
                                  finished_at=now - timedelta(hours=5) + timedelta(seconds=42))
    BackupRun.objects.create(status="failed", started_at=now - timedelta(hours=3),
                             finished_at=now - timedelta(hours=3) + timedelta(seconds=5))
    BackupRun.objects.create(status="running", started_at=now - timedelta(minutes=1))
    chart = backup_history_chart(runs=backup_runs_in(start=now - timedelta(days=1), end=timezone.now()))
    size, duration, failed = (series["values"] for series in chart["series"])
    assert chart["x"] == [int(ok.started_at.timestamp()), int((now - timedelta(hours=3)).timestamp())]
    assert size == [7_000_000, None]
    assert duration == [pytest.approx(42), pytest.approx(5)]
    assert failed == [None, 0]
