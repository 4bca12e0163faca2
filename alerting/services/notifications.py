"""From transitions to deliveries, and delivery attempts with retries and channel health."""

from __future__ import annotations

import random
import time
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext

from alerting.models import (
    Alert,
    AlertState,
    AlertTransition,
    Delivery,
    DeliveryStatus,
    NotificationChannel,
    Silence,
)
from alerting.services.messages import message_render
from alerting.services.transports import SendError, channel_send


def alert_transition_process(*, transition_id: int, now: datetime) -> list[Delivery]:
    """Claim the transition (once, whoever calls) and create its deliveries; return them for sending.

    A silenced transition is marked silenced and gets no delivery; the transition itself stays recorded.
    """
    claimed = AlertTransition.objects.filter(pk=transition_id, processed_at__isnull=True).update(processed_at=now)
    if claimed != 1:
        return []
    transition = AlertTransition.objects.select_related("alert__rule").get(pk=transition_id)
    alert, rule = transition.alert, transition.alert.rule
    if not _notifies(transition):
        return []
    if silence_matching(alert=alert, at=now) is not None:
        AlertTransition.objects.filter(pk=transition.pk).update(silenced=True)
        return []
    channels = list(rule.channels.filter(enabled=True))
    if not rule.channels.exists():
        channels = list(NotificationChannel.objects.filter(enabled=True))
    deliveries = []
    for channel in channels:
        try:
            with transaction.atomic():
                deliveries.append(Delivery.objects.create(transition=transition, channel=channel))
        except IntegrityError:  # already created for this transition and channel
            continue
    AlertTransition.objects.filter(pk=transition.pk).update(notified=bool(deliveries))
    return deliveries


def _notifies(transition: AlertTransition) -> bool:
    if transition.new_state == AlertState.FIRING:
        return True
    return (
        transition.new_state == AlertState.RESOLVED
        and transition.old_state == AlertState.FIRING
        and transition.alert.rule.notify_on_resolve
    )


def silence_matching(*, alert: Alert, at: datetime) -> Silence | None:
    candidates = Silence.objects.filter(starts_at__lte=at, ends_at__gt=at).filter(
        Q(rule__isnull=True) | Q(rule_id=alert.rule_id)
    )
    return next((s for s in candidates if s.matches(rule_id=alert.rule_id, labels=alert.labels)), None)


def delivery_attempt(*, delivery_id: int, now: datetime | None = None) -> Delivery | None:
    """Send the delivery once if it is due (claimed by a conditional UPDATE); record the outcome on it and its channel.

    A transient failure leaves it `retrying` with next_attempt_at (exponential backoff) until
    ALERTING_DELIVERY_ATTEMPTS, then `failed`; a permanent one (PermanentSendError) is `failed` at once, with its
    reason. The caller (a task) schedules the retry.
    """
    now = now or timezone.now()
    claimed = Delivery.objects.filter(
        pk=delivery_id, status__in=[DeliveryStatus.PENDING, DeliveryStatus.RETRYING]
    ).update(status=DeliveryStatus.SENDING, attempts=F("attempts") + 1, last_attempt_at=now, next_attempt_at=None)
    delivery = Delivery.objects.select_related("channel", "transition__alert__rule").filter(pk=delivery_id).first()
    if claimed != 1 or delivery is None:  # not due, or deleted with its channel or rule meanwhile
        return delivery
    channel = delivery.channel
    started = time.perf_counter()
    error, permanent = "", False
    try:
        message = message_render(transition=delivery.transition, channel=channel, now=now)
        channel_send(channel=channel, message=message)
    except SendError as exc:
        error, permanent = str(exc), exc.permanent
    except Exception as exc:  # a bug in rendering or a transport must not leave the delivery "sending" forever
        error = f"{type(exc).__name__}: {exc}"
    delivery.duration_ms = (time.perf_counter() - started) * 1000
    if permanent:
        error = gettext("Permanent error, not retried: %(reason)s") % {"reason": error}
    delivery.error = error
    finished = timezone.now()
    if not error:
        delivery.status = DeliveryStatus.SENT
        NotificationChannel.objects.filter(pk=channel.pk).update(consecutive_failures=0, last_success_at=finished)
    else:
        if not permanent and delivery.attempts < settings.ALERTING_DELIVERY_ATTEMPTS:
            delivery.status = DeliveryStatus.RETRYING
            delivery.next_attempt_at = finished + retry_delay(attempts=delivery.attempts)
        else:
            delivery.status = DeliveryStatus.FAILED
        NotificationChannel.objects.filter(pk=channel.pk).update(
            consecutive_failures=F("consecutive_failures") + 1, last_failure_at=finished, last_error=error
        )
    delivery.save(update_fields=["status", "error", "duration_ms", "next_attempt_at"])
    return delivery


def retry_delay(*, attempts: int) -> timedelta:
    """The earliest wait before the next attempt; the deliver task adds jitter on top (retry_countdown)."""
    return settings.ALERTING_RETRY_BACKOFF * (2 ** max(attempts - 1, 0))


def retry_countdown(*, remaining: timedelta) -> float:
    """Seconds until the retry: the backoff plus up to half of it again, at random, so deliveries that failed
    together (one peer down for all of them) do not all come back at the same moment."""
    seconds = max(0.0, remaining.total_seconds())
    return seconds + random.uniform(0.0, seconds / 2)  # noqa: S311 (spreading load, not a secret)


def channel_test_send(*, channel: NotificationChannel) -> Delivery:
    """A test delivery (no transition) for the channel; the caller enqueues it like any other delivery."""
    return Delivery.objects.create(channel=channel, transition=None)


def deliveries_due(*, now: datetime, stuck_after: timedelta = timedelta(minutes=10)) -> list[int]:
    """Deliveries a lost task message left behind: retries overdue, or `sending` for far too long (worker died)."""
    Delivery.objects.filter(status=DeliveryStatus.SENDING, last_attempt_at__lt=now - stuck_after).update(
        status=DeliveryStatus.RETRYING, next_attempt_at=now, error=gettext("worker lost during the attempt")
    )
    overdue = Q(status=DeliveryStatus.RETRYING, next_attempt_at__lt=now - stuck_after) | Q(
        status=DeliveryStatus.PENDING, created_at__lt=now - stuck_after
    )
    return list(Delivery.objects.filter(overdue).values_list("pk", flat=True))


def transitions_unprocessed(*, now: datetime, older_than: timedelta = timedelta(minutes=2)) -> list[int]:
    """Transitions whose processing message was lost (the evaluate task re-enqueues them)."""
    return list(
        AlertTransition.objects.filter(processed_at__isnull=True, created_at__lt=now - older_than).values_list(
            "pk", flat=True
        )
    )
