"""Alerting records: rules, channels, alerts with their transitions and deliveries, silences, events."""

from alerting.models.alerts import Alert, AlertEvent, AlertState, AlertTransition
from alerting.models.channels import ChannelKind, Delivery, DeliveryStatus, NotificationChannel
from alerting.models.rules import AlertRule, CheckStatus, Comparator, RuleKind, Severity
from alerting.models.silences import Silence

__all__ = [
    "Alert",
    "AlertEvent",
    "AlertRule",
    "AlertState",
    "AlertTransition",
    "ChannelKind",
    "CheckStatus",
    "Comparator",
    "Delivery",
    "DeliveryStatus",
    "NotificationChannel",
    "RuleKind",
    "Severity",
    "Silence",
]
