"""The tasks through a real Celery worker on the test Redis: evaluation → transition → delivery, and retries."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from alerting import observations
from alerting.models import AlertTransition, Delivery, NotificationChannel
from alerting.services import alerts_evaluate
from alerting.tasks import evaluate, process_transition
from tests.alerting.conftest import metric, webhook_payloads
from tests.conftest import free_port, wait_for

pytestmark = pytest.mark.django_db(transaction=True)


def test_evaluate_collects_and_a_worker_delivers_the_notification(
    celery_worker_process, make_rule, webhook_channel, httpserver
):
    make_rule(name="Disk almost full", for_duration=timedelta(0))

    def full_disk(now):
        return [metric("disk_used_percent", 93, now, host="web1", path="/")]

    observations.register_provider(full_disk)
    try:
        celery_worker_process(queues="monitoring", extra_env={"PORTAL_URL": "https://ops.example.com"})
        assert evaluate() == 1  # runs here (the provider is registered in this process); notifies via the worker
    finally:
        observations.unregister_provider(full_disk)
    wait_for(lambda: httpserver.log, timeout=60, what="the webhook notification")
    (payload,) = webhook_payloads(httpserver)
    assert payload["title"] == "[FIRING] Disk almost full (host=web1, path=/)"
    assert "https://ops.example.com/admin/alerting/alert/" in payload["message"]
    transition = AlertTransition.objects.get()
    assert transition.processed_at is not None and transition.notified
    assert wait_for(lambda: Delivery.objects.filter(status="sent").exists(), what="the delivery marked sent")


def test_a_worker_retries_a_failing_channel_with_backoff_until_it_gives_up(celery_worker_process, make_rule):
    channel = NotificationChannel.objects.create(name="dead hook", url=f"json://127.0.0.1:{free_port()}/hook")
    make_rule(for_duration=timedelta(0))
    now = timezone.now()
    (transition,) = alerts_evaluate(observations=[metric("disk_used_percent", 95, now, path="/")], now=now)
    celery_worker_process(
        queues="monitoring", extra_env={"ALERTING_RETRY_BACKOFF": "1s", "ALERTING_DELIVERY_ATTEMPTS": "3"}
    )
    process_transition.delay(transition.pk)
    delivery = wait_for(
        lambda: Delivery.objects.filter(status="failed").first(), timeout=60, what="the delivery to give up"
    )
    assert delivery.attempts == 3
    assert "Connection error" in delivery.error
    # backoff 1 s then 2 s between the three attempts
    assert delivery.last_attempt_at - delivery.created_at >= timedelta(seconds=3)
    channel.refresh_from_db()
    assert channel.consecutive_failures == 3 and channel.is_failing


def test_evaluate_keeps_alerts_firing_while_a_provider_is_broken(make_rule, only_test_providers):
    # only this test's providers: the installed apps' own (monitoring, performance) would report on their own data
    make_rule(for_duration=timedelta(0), resolve_after=timedelta(0))
    now = timezone.now()
    alerts_evaluate(observations=[metric("disk_used_percent", 95, now, path="/")], now=now)

    def broken(now):
        raise ConnectionError("monitoring database unreachable")

    observations.register_provider(broken)
    try:
        assert evaluate() == 0
    finally:
        observations.unregister_provider(broken)
    assert AlertTransition.objects.filter(new_state="resolved").count() == 0
    assert evaluate() == 1  # with the provider gone, the unobserved label set counts as clear
    assert AlertTransition.objects.filter(new_state="resolved").count() == 1
