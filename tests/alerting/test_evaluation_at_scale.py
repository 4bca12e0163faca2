"""Hundreds of label sets under one rule: written in bulk, nothing written when nothing changed, every change notified.

Query counts (django.test.utils.CaptureQueriesContext) assert the behaviour: a fixed number of statements per rule
whatever the number of label sets, and no UPDATE or INSERT when an evaluation changes nothing.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from alerting.models import Alert, AlertTransition, Delivery, Silence
from alerting.services import alert_transition_process, alerts_evaluate, delivery_attempt
from tests.alerting.conftest import T0, metric
from tests.alerting.test_race import run_together

pytestmark = pytest.mark.django_db

HOSTS = 300


def disks(value: float, at, count: int = HOSTS, **extra) -> list:
    return [metric("disk_used_percent", value, at, host=f"h{n:03d}", path="/", **extra) for n in range(count)]


def writes(queries: CaptureQueriesContext) -> list[str]:
    return [q["sql"] for q in queries.captured_queries if q["sql"].split()[0] in ("UPDATE", "INSERT", "DELETE")]


def notify(transitions, now) -> list[Delivery]:
    sent = []
    for transition in transitions:
        for delivery in alert_transition_process(transition_id=transition.pk, now=now):
            sent.append(delivery_attempt(delivery_id=delivery.pk, now=now))
    return sent


def test_many_label_sets_fire_resolve_and_notify_each_one_except_the_silenced(make_rule, webhook_channel, httpserver):
    rule = make_rule(for_duration=timedelta(0), resolve_after=timedelta(0), notify_on_resolve=True)
    Silence.objects.create(
        rule=rule, matchers={"host": "h007"}, starts_at=T0 - timedelta(hours=1), ends_at=T0 + timedelta(hours=1)
    )

    fired = alerts_evaluate(observations=disks(95, T0), now=T0)
    assert len(fired) == HOSTS
    assert {(t.old_state, t.new_state) for t in fired} == {("", "firing")}
    assert Alert.objects.filter(rule=rule, state="firing").count() == HOSTS
    assert set(Alert.objects.filter(rule=rule).values_list("last_value", flat=True)) == {95}
    deliveries = notify(fired, T0)
    assert len(deliveries) == HOSTS - 1 and {d.status for d in deliveries} == {"sent"}
    silenced = AlertTransition.objects.get(alert__labels__host="h007")
    assert silenced.silenced and not silenced.notified

    later = T0 + timedelta(minutes=1)
    resolved = alerts_evaluate(observations=disks(10, later), now=later)
    assert {(t.old_state, t.new_state) for t in resolved} == {("firing", "resolved")} and len(resolved) == HOSTS
    assert notify(resolved, later)
    assert Alert.objects.filter(rule=rule, state="resolved").count() == HOSTS
    titles = [request.get_json()["title"].split("]")[0] for request, _ in httpserver.log]
    assert titles.count("[FIRING") == HOSTS - 1 and titles.count("[RESOLVED") == HOSTS - 1


def test_an_evaluation_that_changes_nothing_writes_nothing(make_rule):
    rule = make_rule(for_duration=timedelta(0), resolve_after=timedelta(minutes=5))
    alerts_evaluate(observations=disks(95, T0), now=T0)

    with CaptureQueriesContext(connection) as queries:
        assert alerts_evaluate(observations=disks(95, T0), now=T0) == []
    assert writes(queries) == []
    assert Alert.objects.filter(rule=rule, state="firing", version=1).count() == HOSTS


def test_new_values_are_written_in_one_statement_and_the_cost_in_queries_does_not_grow(make_rule):
    rule = make_rule(for_duration=timedelta(0), resolve_after=timedelta(minutes=5))
    counts = {}
    for hosts in (10, HOSTS):
        Alert.objects.all().delete()
        with CaptureQueriesContext(connection) as firing:
            alerts_evaluate(observations=disks(95, T0, hosts), now=T0)
        later = T0 + timedelta(minutes=1)
        with CaptureQueriesContext(connection) as steady:
            alerts_evaluate(observations=disks(96, later, hosts), now=later)
        counts[hosts] = (len(firing.captured_queries), len(steady.captured_queries))
        assert len([sql for sql in writes(steady) if sql.startswith("UPDATE")]) == 1
    assert counts[10] == counts[HOSTS]
    assert set(Alert.objects.filter(rule=rule).values_list("last_value", "last_observed_at")) == {
        (96, T0 + timedelta(minutes=1))
    }


def test_a_clear_spell_is_remembered_then_resolves_and_a_new_label_set_joins_later(make_rule):
    rule = make_rule(for_duration=timedelta(0), resolve_after=timedelta(minutes=2))
    alerts_evaluate(observations=disks(95, T0, 50), now=T0)
    one = T0 + timedelta(minutes=1)
    # Half clear, half still high; a new host appears high.
    observations = disks(95, one, 25) + [
        metric("disk_used_percent", 10, one, host=f"h{n:03d}", path="/") for n in range(25, 50)
    ]
    new = alerts_evaluate(
        observations=[*observations, metric("disk_used_percent", 99, one, host="new", path="/")], now=one
    )
    assert [(t.alert.labels["host"], t.new_state) for t in new] == [("new", "firing")]
    clearing = Alert.objects.filter(rule=rule, clear_since=one)
    assert clearing.count() == 25 and set(clearing.values_list("state", flat=True)) == {"firing"}
    three = T0 + timedelta(minutes=3)
    resolved = alerts_evaluate(
        observations=[
            *disks(95, three, 25),
            *observations[25:],
            metric("disk_used_percent", 99, three, host="new", path="/"),
        ],
        now=three,
    )
    assert sorted(t.alert.labels["host"] for t in resolved) == [f"h{n:03d}" for n in range(25, 50)]
    assert all(t.happened_at == one for t in resolved)  # the clear spell started at the first clear observation


@pytest.mark.django_db(transaction=True)
def test_two_evaluators_racing_over_many_label_sets_record_each_change_once(make_rule):
    make_rule(for_duration=timedelta(0), resolve_after=timedelta(0))
    for minute, value in enumerate((95, 10, 97)):
        now = T0 + timedelta(minutes=minute)
        observations = disks(value, now, 200)
        run_together(
            lambda o=observations, n=now: alerts_evaluate(observations=o, now=n),
            lambda o=observations, n=now: alerts_evaluate(observations=o, now=n),
        )
    assert AlertTransition.objects.count() == 3 * 200
    per_alert = {tuple(a.transitions.order_by("pk").values_list("new_state", flat=True)) for a in Alert.objects.all()}
    assert per_alert == {("firing", "resolved", "firing")}
    assert set(Alert.objects.values_list("version", flat=True)) == {3}
