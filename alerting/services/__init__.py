"""Alerting services (the only writers): evaluation, events, notifications, silences, default rules."""

from alerting.services.evaluation import alerts_evaluate
from alerting.services.events import alert_event_record, alert_events_prune, connect_event_signal
from alerting.services.notifications import (
    alert_transition_process,
    channel_test_send,
    deliveries_due,
    delivery_attempt,
    silence_matching,
    transitions_unprocessed,
)
from alerting.services.silences import alert_acknowledge, silence_create_for_alerts

__all__ = [
    "alert_acknowledge",
    "alert_event_record",
    "alert_events_prune",
    "alert_transition_process",
    "alerts_evaluate",
    "channel_test_send",
    "connect_event_signal",
    "deliveries_due",
    "delivery_attempt",
    "silence_create_for_alerts",
    "silence_matching",
    "transitions_unprocessed",
]
