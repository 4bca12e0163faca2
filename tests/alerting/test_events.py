"""Event rules: "backup failed" fires at once; an event rule with a `for` duration fires only after events keep
arriving for that long (here a budget-breach event rule an admin might add)."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from alerting.models import Alert, AlertEvent, AlertRule, AlertTransition
from alerting.observations import EVENT_BACKUP_FAILED, EVENT_BUDGET_BREACHED
from alerting.services import alert_event_record, alerts_evaluate, connect_event_signal
from alerting.signals import describe_budget_breach
from backups.models import BackupRun
from tests.alerting import signals_fixture
from tests.alerting.conftest import T0, notify_unprocessed, webhook_payloads

pytestmark = pytest.mark.django_db


def test_the_default_backup_failed_rule_fires_at_once_and_notifies(webhook_channel, httpserver):
    with time_machine.travel(T0, tick=False) as clock:
        alert_event_record(
            event=EVENT_BACKUP_FAILED,
            labels={"source": "database"},
            message="pg_dump exited with 1",
            now=timezone.now(),
        )
        notify_unprocessed(timezone.now())
        alert = Alert.objects.get(rule__key="backup-failed")
        assert (alert.state, alert.labels) == ("firing", {"source": "database"})
        (payload,) = webhook_payloads(httpserver)
        assert payload["title"] == "[FIRING] Backup failed (source=database)"
        assert "Details: pg_dump exited with 1" in payload["message"]
        # resolves after a day without another failure of that source
        clock.shift(timedelta(hours=23))
        alerts_evaluate(observations=[], now=timezone.now())
        assert Alert.objects.get(pk=alert.pk).state == "firing"
        clock.shift(timedelta(hours=1))
        alerts_evaluate(observations=[], now=timezone.now())
    assert Alert.objects.get(pk=alert.pk).state == "resolved"


@pytest.fixture
def budget_event_rule(webhook_channel):
    return AlertRule.objects.create(
        key="budget-events",
        name="Budget breach events",
        kind="event",
        event_name=EVENT_BUDGET_BREACHED,
        for_duration=timedelta(minutes=10),
        resolve_after=timedelta(minutes=5),
        severity="warning",
    )


def test_a_budget_breach_alerts_only_after_ten_minutes_of_breaches(budget_event_rule, httpserver):
    def breach(value: float) -> None:
        alert_event_record(
            event=EVENT_BUDGET_BREACHED,
            labels={"target": "admin-index"},
            message=f"p95 {value:.0f} ms > budget 300 ms",
            value=value,
            now=timezone.now(),
        )

    with time_machine.travel(T0, tick=False) as clock:
        for minute in range(0, 10, 2):  # a probe every 2 minutes, each over budget
            breach(400 + minute)
            clock.shift(timedelta(minutes=2))
        alert = Alert.objects.get(rule=budget_event_rule)
        assert alert.state == "pending"
        breach(450)  # T0 + 10 min
        alert.refresh_from_db()
        assert alert.state == "firing"
        assert alert.last_value == 450
        notify_unprocessed(timezone.now())
        clock.shift(timedelta(minutes=5))  # no breach for 5 minutes: resolved
        alerts_evaluate(observations=[], now=timezone.now())
        notify_unprocessed(timezone.now())
    titles = [p["title"] for p in webhook_payloads(httpserver)]
    assert titles == [
        "[FIRING] Budget breach events (target=admin-index)",
        "[RESOLVED] Budget breach events (target=admin-index)",
    ]
    assert "Observed value: 450" in webhook_payloads(httpserver)[0]["message"]


def test_signals_are_turned_into_events_by_the_receivers(budget_event_rule, backup_dir, run_backup, settings, tmp_path):
    # A real failed BackupRun through the real service: BACKUP_FILES names a file that does not exist, so the backup
    # fails in preflight and backups' own `backup_failed` reaches the receiver alerting connected at start-up.
    missing = tmp_path / "gone.conf"
    settings.BACKUP_DATABASES = []
    settings.BACKUP_FILES = [str(missing)]
    run = run_backup()
    assert run.status == BackupRun.Status.FAILED
    # The budget signal still stands in for performance's (same kwargs).
    connect_event_signal(signals_fixture.budget_breached, event=EVENT_BUDGET_BREACHED, describe=describe_budget_breach)
    signals_fixture.budget_breached.send(sender=None, target="api-health", p95_ms=812.4, budget_ms=500)

    backup = AlertEvent.objects.get(event=EVENT_BACKUP_FAILED)
    assert backup.labels == {"source": f"file:{missing}"}
    assert backup.message == f"Backup run {run.pk}: {run.error}"
    assert str(missing) in backup.message and "does not exist" in backup.message
    budget = AlertEvent.objects.get(event=EVENT_BUDGET_BREACHED)
    assert (budget.labels, budget.message, budget.value) == (
        {"target": "api-health"},
        "p95 812 ms > budget 500 ms",
        812.4,
    )
    assert Alert.objects.get(rule__key="backup-failed").state == "firing"
    assert Alert.objects.get(rule=budget_event_rule).state == "pending"


def test_a_disabled_event_rule_records_the_event_but_does_not_alert():
    AlertRule.objects.filter(key="backup-failed").update(enabled=False)
    alert_event_record(event=EVENT_BACKUP_FAILED, labels={}, message="x", now=timezone.now())
    assert AlertEvent.objects.count() == 1
    assert not AlertTransition.objects.exists()


def test_the_apps_own_signals_are_connected_at_start_up():
    from performance.signals import budget_breached

    budget_breached.send(sender=None, target="api-health", p95_ms=812.4, budget_ms=500)
    assert AlertEvent.objects.get(event=EVENT_BUDGET_BREACHED).labels == {"target": "api-health"}
