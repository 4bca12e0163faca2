"""Events (a backup failed, a performance budget was breached): recorded, then the event rules are evaluated."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from django.db import transaction
from django.dispatch import Signal
from django.utils import timezone

from alerting.models import AlertEvent, AlertRule, AlertTransition, RuleKind
from alerting.services.evaluation import event_conditions, rule_apply

# describe(**signal_kwargs) -> (labels, message, value)
Describe = Callable[..., tuple[dict[str, str], str, float | None]]


def alert_event_record(
    *, event: str, labels: dict, message: str, now: datetime, value: float | None = None
) -> list[AlertTransition]:
    """Record the event and evaluate the rules watching it; notifications are enqueued after commit."""
    from alerting.tasks import enqueue_transitions

    labels = {str(k): str(v) for k, v in labels.items()}
    AlertEvent.objects.create(event=event, labels=labels, message=message, value=value, at=now)
    transitions: list[AlertTransition] = []
    for rule in AlertRule.objects.filter(enabled=True, kind=RuleKind.EVENT, event_name=event).order_by("pk"):
        transitions += rule_apply(rule=rule, conditions=event_conditions(rule=rule, now=now), now=now)
    transaction.on_commit(lambda: enqueue_transitions([t.pk for t in transitions]))
    return transitions


def alert_events_prune(*, before: datetime) -> int:
    deleted, _ = AlertEvent.objects.filter(at__lt=before).delete()
    return deleted


def connect_event_signal(signal: Signal, *, event: str, describe: Describe) -> None:
    """Record `event` whenever `signal` is sent; `describe` turns the signal's kwargs into labels, message, value."""

    def receiver(sender: object, **kwargs: object) -> None:
        labels, message, value = describe(**kwargs)
        alert_event_record(event=event, labels=labels, message=message, value=value, now=timezone.now())

    # weak=False: the closure would otherwise be garbage-collected at once; dispatch_uid makes reconnecting harmless.
    signal.connect(receiver, weak=False, dispatch_uid=f"alerting:{event}:{id(signal)}")
