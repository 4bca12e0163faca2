"""A target over its budget is seen by alerting: the default rule fires after 10 minutes and resolves after."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.utils import timezone

from alerting.models import Alert
from alerting.observations import collect
from alerting.services import alerts_evaluate
from performance.models import PerfTarget

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def evaluate() -> None:
    now = timezone.now()
    alerts_evaluate(observations=list(collect(now)), now=now)


def test_a_breached_budget_fires_the_default_rule_after_ten_minutes_and_resolves():
    target = PerfTarget.objects.create(name="orders api", kind="api", url="/api/orders", budget_ms=1000)
    with time_machine.travel(T0, tick=False) as clock:
        PerfTarget.objects.filter(pk=target.pk).update(breached_since=timezone.now(), last_p95_ms=1800)
        for _ in range(10):
            evaluate()
            clock.shift(timedelta(minutes=1))
        alert = Alert.objects.get(rule__key="performance-budget", labels__target="orders api")
        assert alert.state == "pending"  # nine minutes and a bit: not yet
        evaluate()
        alert.refresh_from_db()
        assert alert.state == "firing"
        PerfTarget.objects.filter(pk=target.pk).update(breached_since=None, last_p95_ms=400)
        evaluate()  # back within budget: resolving starts (damped by the rule's minimum resolve time)
        clock.shift(alert.rule.resolve_after or timedelta(0))
        clock.shift(timedelta(seconds=1))
        evaluate()
        alert.refresh_from_db()
    assert alert.state == "resolved"
