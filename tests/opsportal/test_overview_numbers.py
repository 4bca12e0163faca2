"""The operations overview shows rounded numbers with a unit; its JSON keeps the full precision."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import timezone

from alerting.models import Alert, AlertRule
from alerting.models.labels import labels_key
from performance.models import PerfTarget

pytestmark = pytest.mark.django_db

RAW_P95 = 156.30000000004657


def test_the_overview_rounds_the_p95_and_its_json_keeps_every_digit(admin_client):
    PerfTarget.objects.create(name="orders api", kind="api", url="/api/orders", budget_ms=1000, last_p95_ms=RAW_P95)

    page = admin_client.get(reverse("admin:index")).content.decode()
    data = admin_client.get(reverse("admin:overview-data")).json()

    assert "<td>156 ms</td>" in page and "156.3" not in page
    assert [row["p95_ms"] for row in data["performance"] if row["target"] == "orders api"] == [RAW_P95]
    assert "<td>156 ms</td>" in data["sections"]["performance"]


def test_the_overview_rounds_a_firing_alerts_value_and_its_json_lists_the_alert(admin_client):
    rule = AlertRule.objects.create(name="Data disk", kind="metric", metric_name="disk_used_percent",
                                    comparator="gt", threshold=90, severity="critical")
    labels = {"mount": "/data"}
    alert = Alert.objects.create(rule=rule, labels=labels, labels_key=labels_key(labels), state="firing",
                                 active_since=timezone.now(), fired_at=timezone.now(), last_value=91.66666666666667)

    page = admin_client.get(reverse("admin:index")).content.decode()
    data = admin_client.get(reverse("admin:overview-data")).json()

    assert "<td>91.67</td>" in page and "91.666" not in page
    assert alert.pk in [row["id"] for row in data["firing_alerts"]]
    assert "<td>91.67</td>" in data["sections"]["alerts"]
