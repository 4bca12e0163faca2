"""Deliveries and alerts in the admin: rounded durations and values with their unit, coloured statuses."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import timezone

from alerting.models import Alert, AlertTransition, Delivery, NotificationChannel
from alerting.models.labels import labels_key

pytestmark = pytest.mark.django_db


@pytest.fixture
def delivery() -> Delivery:
    channel = NotificationChannel.objects.create(name="hook", url="json://127.0.0.1:9/hook")
    return Delivery.objects.create(channel=channel, status="failed", attempts=3, duration_ms=547.5083150000001,
                                   error="connection refused")


def test_the_delivery_list_shows_a_rounded_duration_and_a_coloured_status(admin_client, delivery):
    page = admin_client.get(reverse("admin:alerting_delivery_changelist")).content.decode()

    assert "548 ms" in page
    assert "547.5" not in page
    assert 'class="delivery-status delivery-status-failed"' in page


def test_the_delivery_page_shows_a_rounded_duration(admin_client, delivery):
    page = admin_client.get(reverse("admin:alerting_delivery_change", args=[delivery.pk])).content.decode()

    assert "548 ms" in page
    assert "547.5" not in page


def test_alert_values_are_rounded_in_the_list_on_its_page_and_in_its_transitions(admin_client, make_rule):
    labels = {"mount": "/data"}
    alert = Alert.objects.create(rule=make_rule(name="Disk"), labels=labels, labels_key=labels_key(labels),
                                 state="firing", active_since=timezone.now(), last_value=91.66666666666667)
    AlertTransition.objects.create(alert=alert, old_state="pending", new_state="firing", happened_at=timezone.now(),
                                   value=91.66666666666667)

    listing = admin_client.get(reverse("admin:alerting_alert_changelist")).content.decode()
    detail = admin_client.get(reverse("admin:alerting_alert_change", args=[alert.pk])).content.decode()
    transitions = admin_client.get(reverse("admin:alerting_alerttransition_changelist")).content.decode()

    for page in (listing, detail, transitions):
        assert "91.67" in page
        assert "91.666" not in page
    assert 'class="alert-status alert-status-firing"' in listing
    assert 'class="alert-status alert-status-firing"' in transitions
