from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from django.contrib.auth.models import AbstractBaseUser

from alerting.models import Alert, AlertState, Silence


def silence_create_for_alerts(
    *, alerts: Iterable[Alert], duration: timedelta, user: AbstractBaseUser | None, comment: str, now: datetime
) -> list[Silence]:
    """One silence per alert, matching its rule and its exact label set, from now for `duration`."""
    return [
        Silence.objects.create(
            rule_id=alert.rule_id,
            matchers=dict(alert.labels),
            starts_at=now,
            ends_at=now + duration,
            created_by=user,
            comment=comment,
        )
        for alert in alerts
    ]


def alert_acknowledge(*, alerts: Iterable[Alert], user: AbstractBaseUser | None, now: datetime) -> int:
    """Acknowledged firing alerts send no more reminders until they resolve; a new episode needs a new ack."""
    ids = [alert.pk for alert in alerts]
    return Alert.objects.filter(pk__in=ids, state=AlertState.FIRING, acknowledged_at__isnull=True).update(
        acknowledged_at=now, acknowledged_by=user
    )
