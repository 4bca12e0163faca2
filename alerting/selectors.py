from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Case, IntegerField, QuerySet, Value, When
from django.utils.functional import Promise

from alerting.models import Alert, AlertState, AlertTransition, NotificationChannel, Severity

_STATE_ORDER = [AlertState.FIRING, AlertState.PENDING, AlertState.RESOLVED]
_SEVERITY_ORDER = [Severity.CRITICAL, Severity.WARNING, Severity.INFO]


def alerts_by_urgency(queryset: QuerySet[Alert] | None = None) -> QuerySet[Alert]:
    """Firing first, then pending, then resolved; within each, critical first, then the oldest episode first."""
    queryset = Alert.objects.all() if queryset is None else queryset
    return (
        queryset.select_related("rule")
        .annotate(
            state_rank=_rank("state", _STATE_ORDER),
            severity_rank=_rank("rule__severity", _SEVERITY_ORDER),
        )
        .order_by("state_rank", "severity_rank", "active_since", "pk")
    )


def firing_alerts(*, limit: int = 20) -> list[Alert]:
    """Firing alerts of enabled rules, most urgent first (for the operations overview on the admin index)."""
    firing = Alert.objects.filter(state=AlertState.FIRING, rule__enabled=True)
    return list(alerts_by_urgency(firing)[:limit])


def channels_failing() -> list[NotificationChannel]:
    return list(NotificationChannel.objects.filter(enabled=True, consecutive_failures__gt=0).order_by("name"))


def _rank(field: str, order: list[str]) -> Case:
    return Case(
        *[When(**{field: value}, then=Value(rank)) for rank, value in enumerate(order)],
        default=Value(len(order)),
        output_field=IntegerField(),
    )


@dataclass(frozen=True)
class AlertChange:
    """One alert state change: when, to which state (its value and its label) and of which rule."""

    at: datetime
    state: str
    state_label: Promise | str
    rule: str


def alert_changes_in(*, start: datetime, end: datetime, limit: int) -> list[AlertChange]:
    """State changes of alerts in [start, end], oldest first, reminders (firing to firing) left out."""
    labels = dict(AlertState.choices)
    transitions = (
        AlertTransition.objects.filter(happened_at__gte=start, happened_at__lte=end)
        .exclude(old_state=AlertState.FIRING, new_state=AlertState.FIRING)
        .order_by("happened_at")
        .values_list("happened_at", "new_state", "alert__rule__name")[:limit]
    )
    return [AlertChange(at, state, labels.get(state, state), rule) for at, state, rule in transitions]
