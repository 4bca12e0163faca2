"""The evaluator's state machine under a controlled clock: `for` durations, flap damping, label sets, check rules."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from alerting.models import Alert, AlertTransition
from alerting.services import alerts_evaluate
from tests.alerting.conftest import T0, check, metric

pytestmark = pytest.mark.django_db


def states(rule) -> list[tuple[str, str]]:
    return list(AlertTransition.objects.filter(alert__rule=rule).order_by("pk").values_list("old_state", "new_state"))


def evaluate(*observations):
    now = timezone.now()
    return alerts_evaluate(observations=list(observations), now=now)


def test_condition_must_hold_for_the_for_duration_before_firing(make_rule):
    rule = make_rule(for_duration=timedelta(minutes=5))
    with time_machine.travel(T0, tick=False) as clock:
        evaluate(metric("disk_used_percent", 95, T0, host="web1", path="/"))
        alert = Alert.objects.get(rule=rule)
        assert alert.state == "pending"
        clock.shift(timedelta(minutes=4, seconds=59))
        evaluate(metric("disk_used_percent", 96, timezone.now(), host="web1", path="/"))
        assert Alert.objects.get(rule=rule).state == "pending"
        clock.shift(timedelta(seconds=1))
        evaluate(metric("disk_used_percent", 97, timezone.now(), host="web1", path="/"))
    alert.refresh_from_db()
    assert alert.state == "firing"
    assert alert.active_since == T0
    assert alert.last_value == 97
    assert states(rule) == [("", "pending"), ("pending", "firing")]
    firing = AlertTransition.objects.get(alert=alert, new_state="firing")
    assert firing.happened_at == T0 + timedelta(minutes=5)


def test_a_dip_shorter_than_the_minimum_resolve_time_does_not_resolve(make_rule):
    rule = make_rule(for_duration=timedelta(0), resolve_after=timedelta(minutes=2))
    with time_machine.travel(T0, tick=False) as clock:
        evaluate(metric("disk_used_percent", 95, T0, path="/"))
        for value in (80, 95, 80, 80):  # one minute apart: a dip of one minute, then a clear spell
            clock.shift(timedelta(minutes=1))
            evaluate(metric("disk_used_percent", value, timezone.now(), path="/"))
        assert Alert.objects.get(rule=rule).state == "firing"
        clock.shift(timedelta(minutes=1))  # clear since T0+3m, now T0+5m: two minutes clear
        evaluate(metric("disk_used_percent", 80, timezone.now(), path="/"))
    assert states(rule) == [("", "firing"), ("firing", "resolved")]
    resolved = AlertTransition.objects.get(alert__rule=rule, new_state="resolved")
    assert resolved.happened_at == T0 + timedelta(minutes=3)


def test_a_pending_alert_that_clears_goes_away_without_firing(make_rule):
    rule = make_rule(for_duration=timedelta(minutes=5))
    with time_machine.travel(T0, tick=False) as clock:
        evaluate(metric("disk_used_percent", 95, T0, path="/"))
        clock.shift(timedelta(minutes=2))
        evaluate(metric("disk_used_percent", 50, timezone.now(), path="/"))
        clock.shift(timedelta(minutes=10))
        evaluate(metric("disk_used_percent", 50, timezone.now(), path="/"))
    assert states(rule) == [("", "pending"), ("pending", "resolved")]


def test_each_label_set_is_its_own_alert(make_rule):
    rule = make_rule(for_duration=timedelta(0))
    with time_machine.travel(T0, tick=False):
        evaluate(
            metric("disk_used_percent", 95, T0, host="web1", path="/"),
            metric("disk_used_percent", 40, T0, host="web1", path="/data"),
            metric("disk_used_percent", 99, T0, host="web2", path="/"),
        )
    firing = sorted((a.labels["host"], a.labels["path"]) for a in Alert.objects.filter(rule=rule, state="firing"))
    assert firing == [("web1", "/"), ("web2", "/")]


def test_label_matchers_restrict_the_rule(make_rule):
    rule = make_rule(for_duration=timedelta(0), label_matchers={"path": "/data"})
    with time_machine.travel(T0, tick=False):
        evaluate(
            metric("disk_used_percent", 95, T0, host="web1", path="/"),
            metric("disk_used_percent", 96, T0, host="web1", path="/data"),
        )
    assert [a.labels["path"] for a in Alert.objects.filter(rule=rule)] == ["/data"]


def test_a_check_rule_fires_on_any_critical_check(make_rule):
    rule = make_rule(kind="check", metric_name="", threshold=None, check_status="critical", for_duration=timedelta(0))
    with time_machine.travel(T0, tick=False):
        evaluate(
            check("database", "critical", T0, message="connection refused"),
            check("redis", "warning", T0),
            check("disk", "ok", T0),
        )
    alert = Alert.objects.get(rule=rule)
    assert alert.labels == {"check": "database"}
    assert alert.state == "firing"
    assert alert.last_message == "connection refused"


def test_alerts_stay_as_they_are_while_a_provider_fails(make_rule):
    rule = make_rule(for_duration=timedelta(0), resolve_after=timedelta(0))
    with time_machine.travel(T0, tick=False) as clock:
        evaluate(metric("disk_used_percent", 95, T0, path="/"))
        clock.shift(timedelta(minutes=5))
        alerts_evaluate(observations=[], now=timezone.now(), resolve_unobserved=False)
        assert Alert.objects.get(rule=rule).state == "firing"
        alerts_evaluate(observations=[], now=timezone.now())
    assert Alert.objects.get(rule=rule).state == "resolved"


def test_a_disabled_rule_is_not_evaluated(make_rule):
    rule = make_rule(for_duration=timedelta(0), enabled=False)
    evaluate(metric("disk_used_percent", 95, timezone.now(), path="/"))
    assert not Alert.objects.filter(rule=rule).exists()


def test_an_alert_fires_again_after_it_resolved(make_rule):
    rule = make_rule(for_duration=timedelta(0), resolve_after=timedelta(0))
    with time_machine.travel(T0, tick=False) as clock:
        for value in (95, 50, 95):
            evaluate(metric("disk_used_percent", value, timezone.now(), path="/"))
            clock.shift(timedelta(minutes=1))
    assert states(rule) == [("", "firing"), ("firing", "resolved"), ("resolved", "firing")]
    assert Alert.objects.filter(rule=rule).count() == 1
