"""Alerting sees the latest health snapshot: metrics and checks with their labels, evaluated after every snapshot."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
import redis
import time_machine
from django.conf import settings
from django.utils import timezone

from alerting.models import Alert
from alerting.observations import collect_reporting_failures
from alerting.services import alerts_evaluate
from monitoring.models import CheckResult, HealthSnapshot, MetricSample
from monitoring.tasks import take_snapshot

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)


def store_snapshot(*, disk_percent: float, database_status: str = "ok") -> HealthSnapshot:
    now = timezone.now()
    snapshot = HealthSnapshot.objects.create(taken_at=now, status=database_status, duration_ms=12)
    MetricSample.objects.create(snapshot=snapshot, taken_at=now, name="disk_used_percent",
                                labels="host=db-1,path=/srv", value=disk_percent)
    CheckResult.objects.create(snapshot=snapshot, taken_at=now, check_name="database", host="", status=database_status,
                               message="connection refused" if database_status == "critical" else "", duration_ms=3)
    return snapshot


def evaluate() -> list[str]:
    now = timezone.now()
    observations, failed = collect_reporting_failures(now)
    alerts_evaluate(observations=observations, now=now, resolve_unobserved=not failed)
    return failed


def test_a_full_disk_in_the_snapshots_fires_the_default_rule_after_five_minutes():
    with time_machine.travel(T0, tick=False) as clock:
        for _ in range(5):
            store_snapshot(disk_percent=96.5)
            assert evaluate() == []
            clock.shift(timedelta(minutes=1))
        alert = Alert.objects.get(rule__key="disk-full")
        assert alert.labels == {"host": "db-1", "path": "/srv"}
        assert alert.state == "pending"
        store_snapshot(disk_percent=97)
        evaluate()
        alert.refresh_from_db()
    assert alert.state == "firing"
    assert alert.last_value == 97


def test_a_critical_check_in_the_snapshot_is_seen_by_the_check_rule():
    with time_machine.travel(T0, tick=False):
        store_snapshot(disk_percent=10, database_status="critical")
        evaluate()
    alert = Alert.objects.get(rule__key="check-critical")
    assert alert.state == "pending"
    assert alert.labels == {"check": "database"}


def test_when_snapshots_stop_alerts_are_kept_not_resolved():
    with time_machine.travel(T0, tick=False) as clock:
        for _ in range(7):
            store_snapshot(disk_percent=95)
            evaluate()
            clock.shift(timedelta(minutes=1))
        assert Alert.objects.get(rule__key="disk-full").state == "firing"
        clock.shift(2 * settings.MONITOR_SNAPSHOT_INTERVAL + settings.HEALTH_DEADLINE + timedelta(minutes=5))
        failed = evaluate()
    assert failed and "snapshot_observations" in failed[0]
    assert Alert.objects.get(rule__key="disk-full").state == "firing"


@pytest.mark.django_db(transaction=True)
def test_each_snapshot_enqueues_an_alert_evaluation(django_capture_on_commit_callbacks):
    broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    broker.delete("monitoring")
    with django_capture_on_commit_callbacks(execute=True):
        take_snapshot()
    tasks = [json.loads(message)["headers"]["task"] for message in broker.lrange("monitoring", 0, -1)]
    assert "alerting.tasks.evaluate" in tasks
    assert HealthSnapshot.objects.count() == 1
