"""The operations overview shows rounded numbers with a unit; its JSON keeps the full precision."""

from __future__ import annotations

import pytest
from django.urls import reverse

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
