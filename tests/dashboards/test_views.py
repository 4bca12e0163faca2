"""The dashboard endpoints: staff only, the overview's polling answer, the history data for every range."""

from __future__ import annotations

import pytest
from django.urls import reverse

from backups.models import BackupRun
from monitoring.models import HealthSnapshot, Status

pytestmark = pytest.mark.django_db

URLS = ["admin:overview-data", "admin:dashboard-history", "admin:dashboard-history-data"]


@pytest.mark.parametrize("name", URLS)
def test_anonymous_and_non_staff_users_are_sent_to_the_login_page(client, django_user_model, name):
    assert client.get(reverse(name))["Location"].startswith("/admin/login/")
    django_user_model.objects.create_user("visitor", password="pw-visitor-1")
    client.login(username="visitor", password="pw-visitor-1")
    response = client.get(reverse(name))
    assert response.status_code == 302 and response["Location"].startswith("/admin/login/")


def test_the_index_polls_the_overview_endpoint_and_links_the_dashboard(admin_client):
    page = admin_client.get(reverse("admin:index")).content.decode()
    assert f'data-url="{reverse("admin:overview-data")}"' in page
    assert "dashboards/overview.js" in page
    assert f'href="{reverse("admin:dashboard-history")}"' in page


def test_the_overview_endpoint_returns_each_section_and_the_facts(admin_client):
    snapshot = HealthSnapshot.objects.create(taken_at="2026-11-28T10:00:00Z", status=Status.WARNING, duration_ms=3)
    snapshot.results.create(taken_at=snapshot.taken_at, check_name="disk", host="web-1", status=Status.WARNING,
                            message="82 % used", duration_ms=1)
    snapshot.results.create(taken_at=snapshot.taken_at, check_name="database", status=Status.OK, duration_ms=1)
    run = BackupRun.objects.create(status=BackupRun.Status.RUNNING, bytes_done=3 * 1024 * 1024,
                                   current_artifact="database:default")

    data = admin_client.get(reverse("admin:overview-data")).json()

    assert data["health"]["status"] == "warning"
    assert {(c["check"], c["host"], c["status"]) for c in data["health"]["checks"]} == {
        ("disk", "web-1", "warning"), ("database", "", "ok")}
    assert data["backup"]["active"] == {"id": run.pk, "status": "running", "bytes_done": 3 * 1024 * 1024,
                                        "current_artifact": "database:default"}
    assert set(data["sections"]) == {"health", "backups", "alerts", "performance", "workers"}
    assert 'data-check="disk@web-1"' in data["sections"]["health"]
    assert "82 % used" in data["sections"]["health"]
    assert "3.0\xa0MB done, database:default" in data["sections"]["backups"]


def test_run_backup_now_from_a_refreshed_section_comes_back_to_the_index(admin_client):
    section = admin_client.get(reverse("admin:overview-data")).json()["sections"]["backups"]
    assert 'id="overview-run-backup-now"' in section
    assert f'name="next" value="{reverse("admin:index")}"' in section


@pytest.mark.parametrize("range_key", ["1h", "24h", "7d", "30d", "1y"])
def test_the_history_data_answers_every_named_range(admin_client, seeded_history, range_key):
    data = admin_client.get(reverse("admin:dashboard-history-data"), {"range": range_key}).json()
    assert data["range"]["key"] == range_key
    charts = {chart["id"]: chart for chart in data["charts"]}
    assert {"cpu", "memory", "disk", "db_connections", "db_size", "redis_memory", "queues", "workers",
            "request_latency", "probes"} <= set(charts)
    cpu = charts["cpu"]
    assert [series["label"] for series in cpu["series"]] == ["web-1", "worker-1"]
    assert all(len(series["values"]) == len(cpu["x"]) for series in cpu["series"])
    assert any(value is not None for value in cpu["series"][0]["values"])
    assert data["timeline"], "every check has a status band"


def test_a_custom_range_and_a_bad_one(admin_client, seeded_history):
    url = reverse("admin:dashboard-history-data")
    ok = admin_client.get(url, {"start": "2026-01-01T00:00:00Z", "end": "2026-01-02T00:00:00Z"})
    assert ok.status_code == 200 and ok.json()["range"]["key"] == "custom"
    assert admin_client.get(url, {"range": "5y"}).status_code == 400
    backwards = admin_client.get(url, {"start": "2026-01-02T00:00:00Z", "end": "2026-01-01T00:00:00Z"})
    assert backwards.status_code == 400 and "before" in backwards.json()["error"]


def test_the_history_page_offers_every_range_and_loads_uplot_from_the_portal(admin_client):
    page = admin_client.get(reverse("admin:dashboard-history"), {"range": "7d"}).content.decode()
    for key in ["1h", "24h", "7d", "30d", "1y"]:
        assert f'data-range="{key}"' in page
    assert 'class="button selected" data-range="7d"' in page
    assert "/static/vendor/uplot/uPlot.iife.min.js" in page and "https://" not in page
    assert 'id="dashboard-messages"' in page
