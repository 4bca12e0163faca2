"""Durations run from the observations' times, not from when a (late) evaluation happened to run."""

from __future__ import annotations

from datetime import timedelta

import pytest

from alerting.models import Alert, AlertTransition
from alerting.services import alerts_evaluate
from tests.alerting.conftest import T0, metric

pytestmark = pytest.mark.django_db

MINUTE = timedelta(minutes=1)


def seen(value: float, at, *, evaluated_late_by: timedelta) -> None:
    """One observation stamped `at`, evaluated `evaluated_late_by` after it (a queue backlog delays evaluations)."""
    alerts_evaluate(observations=[metric("disk_used_percent", value, at, host="db1", path="/")],
                    now=at + evaluated_late_by)


def test_a_late_evaluation_fires_and_resolves_at_the_observation_times(make_rule):
    rule = make_rule(for_duration=MINUTE, resolve_after=MINUTE)
    seen(95, T0, evaluated_late_by=timedelta(seconds=40))
    seen(95, T0 + MINUTE, evaluated_late_by=timedelta(seconds=40))
    alert = Alert.objects.get(rule=rule)
    assert alert.state == "firing"
    assert alert.active_since == T0
    assert alert.fired_at == T0 + MINUTE

    cleared_at = T0 + 2 * MINUTE
    seen(50, cleared_at, evaluated_late_by=timedelta(seconds=40))
    assert Alert.objects.get(rule=rule).state == "firing"  # clear for 40 s of the minute it must be
    seen(50, cleared_at + timedelta(seconds=30), evaluated_late_by=timedelta(seconds=40))

    alert.refresh_from_db()
    assert alert.state == "resolved"
    assert alert.resolved_at == cleared_at
    transitions = AlertTransition.objects.filter(alert=alert).order_by("pk")
    assert [(t.new_state, t.happened_at) for t in transitions] == [
        ("pending", T0), ("firing", T0 + MINUTE), ("resolved", cleared_at),
    ]


def test_a_pending_alert_goes_away_at_the_time_of_the_clear_observation(make_rule):
    rule = make_rule(for_duration=5 * MINUTE, resolve_after=MINUTE)
    seen(95, T0, evaluated_late_by=timedelta(seconds=10))
    seen(50, T0 + MINUTE, evaluated_late_by=timedelta(seconds=50))
    alert = Alert.objects.get(rule=rule)
    assert alert.state == "resolved"
    assert alert.resolved_at == T0 + MINUTE
    gone = AlertTransition.objects.get(alert=alert, new_state="resolved")
    assert gone.happened_at == T0 + MINUTE


def test_snapshots_a_few_milliseconds_short_of_the_duration_still_fire_and_resolve_on_time(make_rule):
    """Seen in bench/alerting_latency.py: 20 s snapshots stamped 0.3 s later or earlier than their ticks (their checks
    ran longer or shorter) made 60 s span 59.7 s, so the resolve waited one more snapshot (+20 s)."""
    rule = make_rule(for_duration=MINUTE, resolve_after=MINUTE)
    step, short = timedelta(seconds=20), timedelta(milliseconds=300)
    for at in (T0, T0 + step, T0 + 2 * step, T0 + 3 * step - short):
        seen(95, at, evaluated_late_by=timedelta(milliseconds=5))
    alert = Alert.objects.get(rule=rule)
    assert alert.state == "firing"  # at the snapshot of the third tick, not one later
    assert alert.fired_at == T0 + MINUTE

    cleared_at = T0 + 4 * step
    for at in (cleared_at, cleared_at + step, cleared_at + 2 * step):
        seen(50, at, evaluated_late_by=timedelta(milliseconds=5))
    assert Alert.objects.get(rule=rule).state == "firing"  # clear for 40 s of the minute it must be
    seen(50, cleared_at + 3 * step - short, evaluated_late_by=timedelta(milliseconds=5))
    alert.refresh_from_db()
    assert alert.state == "resolved" and alert.resolved_at == cleared_at


def test_a_condition_seen_for_clearly_less_than_for_does_not_fire(make_rule):
    rule = make_rule(for_duration=MINUTE, resolve_after=MINUTE)
    for at in (T0, T0 + timedelta(seconds=30), T0 + timedelta(seconds=58)):
        seen(95, at, evaluated_late_by=timedelta(milliseconds=5))
    assert Alert.objects.get(rule=rule).state == "pending"
