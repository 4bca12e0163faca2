"""A check declared `critical = False` never pages as critical (issue 16, item 4).

A real check class in an installed app's health.py reads critical; the real snapshot service stores it, the real
alerting evaluation reads the snapshot, and the health API answers.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from alerting.models import Alert, AlertRule, CheckStatus, RuleKind, Severity
from alerting.observations import collect_reporting_failures
from alerting.services import alerts_evaluate
from monitoring.models import CheckResult
from monitoring.runner import clear_cached_results
from monitoring.services import health_snapshot_take
from tests.monitoring.conftest import HEALTH_TOKEN

pytestmark = pytest.mark.django_db

# Everything but the check under test and the database, so the overall status is about them alone.
OTHER_CHECKS = ["docker", "celery", "redis", "cpu", "memory", "disk", "migrations", "backups", "wal_archive"]


@pytest.fixture
def optional_check(settings):
    settings.INSTALLED_APPS = [*settings.INSTALLED_APPS, "tests.optional_check_app"]
    settings.MONITOR_DISABLED_CHECKS = OTHER_CHECKS
    settings.HEALTH_CACHE_TTL = timedelta(0)
    clear_cached_results()
    return settings


def evaluate() -> None:
    now = timezone.now()
    observations, failed = collect_reporting_failures(now)
    alerts_evaluate(observations=observations, now=now, resolve_unobserved=not failed)


def test_a_non_critical_check_reading_critical_is_stored_as_a_warning_with_its_own_status_kept(optional_check):
    snapshot = health_snapshot_take()

    result = CheckResult.objects.get(snapshot=snapshot, check_name="optional-feed")
    assert result.status == "warning"  # what it counts as: for paging, history and the overview
    assert result.reported_status == "critical"  # what the check itself said
    assert snapshot.status != "critical"


def test_a_non_critical_check_raises_no_critical_alert_only_a_warning(optional_check):
    warning_rule = AlertRule.objects.create(
        name="Optional feed degraded", kind=RuleKind.CHECK, check_name="optional-feed",
        check_status=CheckStatus.WARNING, for_duration=timedelta(0), severity=Severity.WARNING,
    )
    with time_machine.travel(timezone.now(), tick=False) as clock:
        for _ in range(4):  # past the two minutes the default "Health check critical" rule waits
            assert health_snapshot_take() is not None
            evaluate()
            clock.shift(timedelta(minutes=1))

    assert not Alert.objects.filter(rule__severity=Severity.CRITICAL, labels__check="optional-feed").exists()
    assert not Alert.objects.filter(rule__key="check-critical", labels__check="optional-feed").exists()
    assert Alert.objects.get(rule=warning_rule, labels__check="optional-feed").state == "firing"


def test_the_health_api_is_not_critical_because_of_a_non_critical_check(optional_check, client):
    response = client.get("/api/system/health", HTTP_AUTHORIZATION=f"Bearer {HEALTH_TOKEN}")

    body = response.json()
    feed = next(check for check in body["checks"] if check["name"] == "optional-feed")
    assert feed["status"] == "critical" and feed["critical"] is False and feed["counts_as"] == "warning"
    assert body["status"] == "warning" and response.status_code == 200
