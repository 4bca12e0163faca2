"""The admin shell: titled OpsPortal, everything behind a staff login, the operations overview on the index."""

from __future__ import annotations

import pytest
from django.utils import timezone
from django.utils.html import escape

from monitoring.models import WorkerHeartbeat


@pytest.mark.django_db
def test_login_page_is_titled_opsportal(client):
    response = client.get("/admin/login/")
    assert response.status_code == 200
    assert "<title>Log in | OpsPortal</title>" in response.content.decode()


@pytest.mark.django_db
def test_index_requires_a_staff_login(client, django_user_model):
    assert client.get("/admin/").status_code == 302
    django_user_model.objects.create_user("visitor", password="pw-visitor-1")
    client.login(username="visitor", password="pw-visitor-1")
    response = client.get("/admin/")
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


@pytest.mark.django_db
def test_index_shows_the_operations_overview_with_workers(admin_client):
    WorkerHeartbeat.objects.create(hostname="worker@host-a", queue="backups", last_seen=timezone.now())
    page = admin_client.get("/admin/").content.decode()
    assert 'id="operations-overview"' in page
    assert "Operations overview" in page
    assert "worker@host-a" in page


@pytest.mark.django_db
def test_root_redirects_to_the_admin(client):
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"] == "/admin/"


def test_liveness_answers_without_touching_the_database(client):
    # No django_db mark: any database access here raises, so a 200 proves liveness needs no database.
    response = client.get("/api/system/health/live")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert client.post("/api/system/health/live").status_code == 405


@pytest.mark.django_db
def test_admin_static_files_are_served_without_debug(client, settings):
    settings.DEBUG = False
    response = client.get("/static/admin/css/base.css")
    assert response.status_code == 200
    assert b"".join(response.streaming_content)


@pytest.mark.django_db
def test_language_switcher_in_the_header_switches_the_language(admin_client):
    page = admin_client.get("/admin/").content.decode()
    assert 'id="language-switcher"' in page
    response = admin_client.post("/i18n/setlang/", {"language": "ja", "next": "/admin/"})
    assert response.status_code == 302
    assert response.cookies["django_language"].value == "ja"
    assert "ログアウト" in admin_client.get("/admin/").content.decode()  # Django's own admin, now in Japanese


@pytest.mark.django_db
def test_index_lists_firing_alerts(admin_client):
    from alerting.models import Alert, AlertRule, AlertState

    rule = AlertRule.objects.filter(enabled=True).first()
    Alert.objects.create(rule=rule, labels={"path": "/srv"}, state=AlertState.FIRING, active_since=timezone.now())
    page = admin_client.get("/admin/").content.decode()
    assert 'id="firing-alerts"' in page
    assert escape(rule.name) in page  # as the page writes it ("A route&#x27;s p95 …")


@pytest.mark.django_db
def test_index_shows_performance_targets_against_their_budgets(admin_client):
    from performance.models import PerfTarget

    PerfTarget.objects.create(name="orders api", kind="api", url="/api/orders", budget_ms=1000, last_p95_ms=1450,
                              breached_since=timezone.now())
    PerfTarget.objects.create(name="home page", kind="page", url="/", budget_ms=3000, last_p95_ms=800)
    page = admin_client.get("/admin/").content.decode()
    table = page.split('id="performance-targets"')[1].split("</table>")[0]
    assert "orders api" in table and "1450 ms" in table and "over budget for" in table
    assert "home page" in table and "within budget" in table


@pytest.mark.django_db
def test_index_shows_overall_health_and_the_checks_that_are_not_ok(admin_client):
    from monitoring.models import CheckResult, HealthSnapshot

    assert "No health snapshot yet" in admin_client.get("/admin/").content.decode()
    now = timezone.now()
    snapshot = HealthSnapshot.objects.create(taken_at=now, status="critical", duration_ms=40)
    CheckResult.objects.create(snapshot=snapshot, taken_at=now, check_name="redis", status="critical",
                               message="connection refused on 127.0.0.1:6379", duration_ms=2)
    CheckResult.objects.create(snapshot=snapshot, taken_at=now, check_name="disk", host="db-1", status="ok",
                               duration_ms=1)
    page = admin_client.get("/admin/").content.decode()
    overview = page.split('id="health-overview"')[1].split('id="firing-alerts"')[0]
    assert "status-critical" in overview
    assert "connection refused on 127.0.0.1:6379" in overview
    assert "db-1" in overview


@pytest.mark.django_db
def test_index_shows_the_last_backup_and_the_run_button_to_those_allowed(admin_client):
    from backups.models import BackupRun

    run = BackupRun.objects.create(status="succeeded", trigger="scheduled", finished_at=timezone.now(),
                                   total_bytes=5 * 1024 * 1024)
    page = admin_client.get("/admin/").content.decode()
    block = page.split('id="backups-overview"')[1].split("</table>")[0]
    assert f"#{run.pk}" in block and "5.0\xa0MB" in block
    assert "Run backup now" in page.split('id="backups-overview"')[1]


@pytest.mark.django_db
def test_staff_without_the_run_permission_see_no_run_button(client, django_user_model):
    staff = django_user_model.objects.create_user("viewer", password="pw-viewer-1", is_staff=True)
    client.force_login(staff)
    page = client.get("/admin/").content.decode()
    assert 'id="backups-overview"' in page
    assert "Run backup now" not in page
