"""Thin tasks on the monitoring queue: evaluate, process a transition, send a delivery (retrying with backoff)."""

from __future__ import annotations

from collections.abc import Iterable

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from alerting.models import DeliveryStatus
from alerting.observations import collect_reporting_failures
from alerting.services import (
    alert_events_prune,
    alert_transition_process,
    alerts_evaluate,
    deliveries_due,
    delivery_attempt,
    transitions_unprocessed,
)
from alerting.services.notifications import retry_countdown


@shared_task(name="alerting.tasks.evaluate")
def evaluate() -> int:
    """Collect observations, evaluate the rules, enqueue notifications; also pick up work whose message was lost."""
    now = timezone.now()
    observations, failed_providers = collect_reporting_failures(now)
    transitions = alerts_evaluate(observations=observations, now=now, resolve_unobserved=not failed_providers)
    enqueue_transitions([t.pk for t in transitions] + transitions_unprocessed(now=now))
    for delivery_id in deliveries_due(now=now):
        deliver.delay(delivery_id)
    alert_events_prune(before=now - settings.ALERTING_EVENT_RETENTION)
    return len(transitions)


@shared_task(name="alerting.tasks.process_transition")
def process_transition(transition_id: int) -> None:
    for delivery in alert_transition_process(transition_id=transition_id, now=timezone.now()):
        deliver.delay(delivery.pk)


@shared_task(bind=True, name="alerting.tasks.deliver", max_retries=None)
def deliver(self, delivery_id: int) -> str:
    delivery = delivery_attempt(delivery_id=delivery_id)
    if delivery is None:
        return "gone"
    if delivery.status == DeliveryStatus.RETRYING and delivery.next_attempt_at is not None:
        # The attempt count lives on the Delivery (ALERTING_DELIVERY_ATTEMPTS), so Celery's own limit is off.
        # Jittered: next_attempt_at is the earliest moment, the countdown adds up to half the backoff again.
        raise self.retry(countdown=retry_countdown(remaining=delivery.next_attempt_at - timezone.now()))
    return delivery.status


def enqueue_transitions(transition_ids: Iterable[int]) -> None:
    for transition_id in dict.fromkeys(transition_ids):
        process_transition.delay(transition_id)
