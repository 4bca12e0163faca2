"""Two evaluators racing over the same observations on real PostgreSQL record and notify each change exactly once."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta

import pytest
from django.db import connection

from alerting.models import AlertTransition, Delivery
from alerting.services import alert_transition_process, alerts_evaluate, delivery_attempt
from tests.alerting.conftest import T0, metric

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.faults]


def run_together(*jobs: Callable[[], None]) -> None:
    """Start the jobs in threads released at the same instant by a barrier; re-raise the first failure."""
    barrier = threading.Barrier(len(jobs))
    errors: list[BaseException] = []

    def run(job: Callable[[], None]) -> None:
        try:
            barrier.wait(timeout=10)
            job()
        except BaseException as exc:  # noqa: BLE001 (handed to the test thread)
            errors.append(exc)
        finally:
            connection.close()  # each thread has its own connection

    threads = [threading.Thread(target=run, args=(job,)) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    if errors:
        raise errors[0]


def evaluate_and_notify(observations, now) -> None:
    for transition in alerts_evaluate(observations=observations, now=now):
        for delivery in alert_transition_process(transition_id=transition.pk, now=now):
            delivery_attempt(delivery_id=delivery.pk, now=now)


def test_two_evaluators_racing_deliver_each_change_exactly_once(make_rule, webhook_channel, httpserver):
    make_rule(for_duration=timedelta(0), resolve_after=timedelta(0))
    rounds = [95, 10, 97, 12, 99, 15, 96, 11]  # each round flips the alert: firing, resolved, firing, ...
    for index, value in enumerate(rounds):
        now = T0 + timedelta(minutes=index)
        observations = [metric("disk_used_percent", value, now, host="web1", path="/")]
        run_together(
            lambda o=observations, n=now: evaluate_and_notify(o, n),
            lambda o=observations, n=now: evaluate_and_notify(o, n),
        )
    transitions = list(AlertTransition.objects.order_by("pk").values_list("old_state", "new_state"))
    assert transitions == [("", "firing")] + [("firing", "resolved"), ("resolved", "firing")] * 3 + [
        ("firing", "resolved")
    ]
    titles = [request.get_json()["title"].split("]")[0] for request, _ in httpserver.log]
    assert titles == ["[FIRING", "[RESOLVED"] * 4
    assert Delivery.objects.filter(status="sent").count() == len(rounds)


def test_two_workers_processing_the_same_transition_deliver_once(make_rule, webhook_channel, httpserver):
    make_rule(for_duration=timedelta(0))
    (transition,) = alerts_evaluate(observations=[metric("disk_used_percent", 95, T0, path="/")], now=T0)

    def process() -> None:
        for delivery in alert_transition_process(transition_id=transition.pk, now=T0):
            delivery_attempt(delivery_id=delivery.pk, now=T0)

    run_together(process, process, process)
    assert len(httpserver.log) == 1
    assert Delivery.objects.get().attempts == 1
