"""The history admin: snapshots with their results, filters, and read-only rollups."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from monitoring.models import CheckResult, HealthSnapshot, Status

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client, django_user_model):
    client.force_login(django_user_model.objects.create_superuser("root", "root@example.com", "pw"))
    return client


@pytest.fixture
def snapshots():
    made = []
    for minute, status in [(0, Status.OK), (1, Status.CRITICAL)]:
        at = datetime(2026, 11, 1, 10, minute, tzinfo=UTC)
        snapshot = HealthSnapshot.objects.create(taken_at=at, status=status, duration_ms=5)
        CheckResult.objects.create(snapshot=snapshot, taken_at=at, check_name="database", status=status,
                                   message=f"database {status}", duration_ms=1)
        made.append(snapshot)
    return made


def test_snapshots_filter_by_status_and_by_failing_check(admin_client, snapshots):
    url = "/admin/monitoring/healthsnapshot/"
    all_rows = admin_client.get(url)
    assert all_rows.status_code == 200
    assert len(all_rows.context["cl"].result_list) == 2
    critical = admin_client.get(url, {"status__exact": "critical"})
    assert list(critical.context["cl"].result_list) == [snapshots[1]]
    failing = admin_client.get(url, {"failing": "database"})
    assert list(failing.context["cl"].result_list) == [snapshots[1]]


def test_a_snapshot_page_shows_its_check_results(admin_client, snapshots):
    page = admin_client.get(f"/admin/monitoring/healthsnapshot/{snapshots[1].pk}/change/")
    assert page.status_code == 200
    assert b"database critical" in page.content


@pytest.mark.parametrize("model", ["checkresult", "metricsample", "metricrollup", "checkrollup",
                                   "metricdailyrollup", "checkdailyrollup", "hostreport", "workerheartbeat",
                                   "beattick"])
def test_history_lists_render_and_cannot_be_added_to(admin_client, snapshots, model):
    assert admin_client.get(f"/admin/monitoring/{model}/").status_code == 200
    assert admin_client.get(f"/admin/monitoring/{model}/add/").status_code == 403
