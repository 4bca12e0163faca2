"""Work whose task message was lost is found again by the evaluate task: transitions and deliveries never hang."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from alerting.models import Delivery, NotificationChannel
from alerting.services import (
    alert_transition_process,
    alerts_evaluate,
    deliveries_due,
    delivery_attempt,
    transitions_unprocessed,
)
from tests.alerting.conftest import T0, metric

pytestmark = pytest.mark.django_db


def test_an_unprocessed_transition_is_found_after_two_minutes(make_rule):
    make_rule(for_duration=timedelta(0))
    with time_machine.travel(T0, tick=False) as clock:
        (transition,) = alerts_evaluate(observations=[metric("disk_used_percent", 95, T0, path="/")], now=T0)
        clock.shift(timedelta(minutes=1))
        assert transitions_unprocessed(now=timezone.now()) == []  # its own message is probably still on the way
        clock.shift(timedelta(minutes=2))
        assert transitions_unprocessed(now=timezone.now()) == [transition.pk]
        alert_transition_process(transition_id=transition.pk, now=timezone.now())
        assert transitions_unprocessed(now=timezone.now()) == []


def test_a_delivery_stuck_sending_or_overdue_is_handed_out_again(make_rule, httpserver):
    httpserver.expect_request("/hook", method="POST").respond_with_data("ok")
    channel = NotificationChannel.objects.create(name="hook", url=f"json://127.0.0.1:{httpserver.port}/hook")
    with time_machine.travel(T0, tick=False) as clock:
        stuck = Delivery.objects.create(channel=channel, status="sending", last_attempt_at=T0, attempts=1)
        overdue = Delivery.objects.create(channel=channel, status="retrying", next_attempt_at=T0, attempts=1)
        waiting = Delivery.objects.create(
            channel=channel, status="retrying", next_attempt_at=T0 + timedelta(hours=1), attempts=1
        )
        clock.shift(timedelta(minutes=11))
        due = deliveries_due(now=timezone.now())
    assert overdue.pk in due and waiting.pk not in due
    stuck.refresh_from_db()
    assert stuck.status == "retrying" and stuck.error == "worker lost during the attempt"
    assert delivery_attempt(delivery_id=stuck.pk).status == "sent"
