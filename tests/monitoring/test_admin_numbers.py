"""Health history in the admin reads like a person wrote it: rounded durations with a unit, coloured statuses."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.urls import reverse

from monitoring.models import CheckResult, CheckRollup, HealthSnapshot, MetricSample, Status
from tests.monitoring.conftest import HEALTH_TOKEN

pytestmark = pytest.mark.django_db

AT = datetime(2026, 11, 1, 10, 0, tzinfo=UTC)


@pytest.fixture
def admin_client(client, django_user_model):
    client.force_login(django_user_model.objects.create_superuser("root", "root@example.com", "pw"))
    return client


@pytest.fixture
def snapshot() -> HealthSnapshot:
    snapshot = HealthSnapshot.objects.create(taken_at=AT, status=Status.CRITICAL, duration_ms=11.074185999973452)
    CheckResult.objects.create(snapshot=snapshot, taken_at=AT, check_name="database", status=Status.CRITICAL,
                               message="down", duration_ms=547.5083150000001)
    return snapshot


def test_the_snapshot_list_shows_rounded_durations_and_coloured_statuses(admin_client, snapshot):
    page = admin_client.get(reverse("admin:monitoring_healthsnapshot_changelist")).content.decode()

    assert "11.1 ms" in page
    assert "11.074" not in page
    assert 'class="health-status health-status-critical"' in page


def test_the_snapshot_page_and_its_check_results_show_rounded_durations(admin_client, snapshot):
    page = admin_client.get(reverse("admin:monitoring_healthsnapshot_change", args=[snapshot.pk])).content.decode()

    assert "11.1 ms" in page and "548 ms" in page
    assert "11.074" not in page and "547.5" not in page


def test_the_check_result_list_and_page_show_rounded_durations(admin_client, snapshot):
    result = snapshot.results.get()
    listing = admin_client.get(reverse("admin:monitoring_checkresult_changelist")).content.decode()
    detail = admin_client.get(reverse("admin:monitoring_checkresult_change", args=[result.pk])).content.decode()

    for page in (listing, detail):
        assert "548 ms" in page
        assert "547.5" not in page
    assert 'class="health-status health-status-critical"' in listing


def test_the_duration_column_still_sorts_by_the_number(admin_client):
    for minute, duration in [(0, 900.0), (1, 2.5), (2, 30.26)]:
        HealthSnapshot.objects.create(taken_at=AT.replace(minute=minute), status=Status.OK, duration_ms=duration)
    url = reverse("admin:monitoring_healthsnapshot_changelist")

    ascending = admin_client.get(url, {"o": "3"})
    descending = admin_client.get(url, {"o": "-3"})

    assert [s.duration_ms for s in ascending.context["cl"].result_list] == [2.5, 30.26, 900.0]
    assert [s.duration_ms for s in descending.context["cl"].result_list] == [900.0, 30.26, 2.5]
    assert "2.5 ms" in ascending.content.decode() and "30.3 ms" in ascending.content.decode()


def test_rollups_and_metric_values_are_rounded(admin_client):
    CheckRollup.objects.create(hour=AT, check_name="database", host="", ok_count=3, warning_count=0, critical_count=0,
                               average_duration_ms=4.123456789)
    snapshot = HealthSnapshot.objects.create(taken_at=AT, status=Status.OK, duration_ms=1)
    MetricSample.objects.create(snapshot=snapshot, taken_at=AT, name="disk_used_percent", value=71.33333333333333)

    rollups = admin_client.get(reverse("admin:monitoring_checkrollup_changelist")).content.decode()
    samples = admin_client.get(reverse("admin:monitoring_metricsample_changelist")).content.decode()

    assert "4.1 ms" in rollups and "4.123" not in rollups
    assert "71.33" in samples and "71.333" not in samples


@pytest.mark.django_db(transaction=True)
def test_the_health_api_keeps_durations_as_numbers(client, settings):
    settings.MONITOR_DISABLED_CHECKS = ["celery"]  # no worker runs here
    body = client.get("/api/system/health", HTTP_AUTHORIZATION=f"Bearer {HEALTH_TOKEN}").json()

    assert isinstance(body["duration_ms"], int | float)
    assert all(isinstance(check["duration_ms"], int | float) for check in body["checks"])
