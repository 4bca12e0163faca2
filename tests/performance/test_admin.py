"""The admin: p95 against the budget with a red mark for breaches, results filterable, passwords write-only."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from performance.credentials import decrypt_password
from performance.models import PerfResult, PerfTarget

pytestmark = pytest.mark.django_db


def test_targets_list_shows_p95_against_budget_and_marks_breaches_red(admin_client, make_target):
    make_target(name="quick", url="/a", budget_ms=1000, last_p95_ms=123.4)
    make_target(name="sluggish", url="/b", budget_ms=500, last_p95_ms=812.0, breached_since=timezone.now())

    page = admin_client.get(reverse("admin:performance_perftarget_changelist")).content.decode()

    assert '<span class="perf-ok" style="color:#2e7d32">123 ms / 1000 ms</span>' in page
    assert 'class="perf-breached" style="color:#ba2121">&#10006; 812 ms / 500 ms (breached)' in page
    assert page.count("perf-breached") == 1

    breached_only = admin_client.get(reverse("admin:performance_perftarget_changelist"), {"budget": "breached"})
    assert "sluggish" in breached_only.content.decode() and "quick" not in breached_only.content.decode()


def test_probe_now_queues_one_probe_per_selected_target_on_the_probes_queue(
    admin_client, make_target, django_capture_on_commit_callbacks
):
    import redis
    from django.conf import settings

    from opsportal.celery import app

    first = make_target(name="first", url="/a")
    second = make_target(name="second", url="/b")
    make_target(name="not selected", url="/c")
    app.control.purge()
    broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)

    with django_capture_on_commit_callbacks(execute=True):  # the probes are queued once the request commits
        response = admin_client.post(
            reverse("admin:performance_perftarget_changelist"),
            {"action": "probe_now", "_selected_action": [first.pk, second.pk]},
            follow=True,
        )

    assert "2 probes queued." in response.content.decode()
    try:
        messages = [json.loads(raw) for raw in broker.lrange("probes", 0, -1)]
        assert sorted(m["headers"]["task"] for m in messages) == ["performance.tasks.probe_target"] * 2
        assert sorted(m["headers"]["argsrepr"] for m in messages) == sorted([f"({first.pk},)", f"({second.pk},)"])
    finally:
        app.control.purge()


@pytest.mark.security
def test_a_password_entered_in_the_admin_is_stored_encrypted_and_never_shown(admin_client):
    response = admin_client.post(
        reverse("admin:performance_perftarget_add"),
        {
            "name": "dashboard",
            "kind": "page",
            "url": "/admin/",
            "url_name": "",
            "method": "GET",
            "expected_status": "200",
            "budget_ms": "",
            "samples": "2",
            "enabled": "on",
            "login_username": "perf-probe",
            "login_password": "Sup3r-secret-value",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    target = PerfTarget.objects.get(name="dashboard")
    assert target.budget_ms == 3000
    assert b"Sup3r-secret-value" not in bytes(target.login_password_encrypted)
    assert decrypt_password(target.login_password_encrypted) == "Sup3r-secret-value"
    assert "Sup3r-secret-value" not in repr(target)

    change_page = admin_client.get(reverse("admin:performance_perftarget_change", args=[target.pk])).content.decode()
    assert "Sup3r-secret-value" not in change_page
    assert 'name="login_password"' in change_page and 'type="password"' in change_page

    # Saving again without typing it keeps the stored password.
    admin_client.post(
        reverse("admin:performance_perftarget_change", args=[target.pk]),
        {"name": "dashboard", "kind": "page", "url": "/admin/", "url_name": "", "method": "GET",
         "expected_status": "200", "budget_ms": "2500", "samples": "2", "enabled": "on",
         "login_username": "perf-probe", "login_password": ""},
    )
    target.refresh_from_db()
    assert target.budget_ms == 2500
    assert decrypt_password(target.login_password_encrypted) == "Sup3r-secret-value"


def test_the_form_refuses_a_target_without_an_address_or_with_an_unknown_url_name(admin_client):
    fields = {"kind": "api", "method": "GET", "expected_status": "200", "budget_ms": "", "samples": "3",
              "login_username": "", "login_password": ""}
    url = reverse("admin:performance_perftarget_add")

    nowhere = admin_client.post(url, {**fields, "name": "nowhere", "url": "", "url_name": ""})
    unknown = admin_client.post(url, {**fields, "name": "unknown", "url": "", "url_name": "nope:missing"})

    assert nowhere.status_code == unknown.status_code == 200  # the form again, with errors
    assert "No URL has the name nope:missing." in unknown.content.decode()
    assert not PerfTarget.objects.filter(name__in=["nowhere", "unknown"]).exists()


def test_results_are_filterable_by_target_and_time(admin_client, make_target):
    first = make_target(name="first", url="/a")
    second = make_target(name="second", url="/b")
    now = timezone.now()
    PerfResult.objects.create(target=first, measured_at=now, outcome="ok", duration_ms=11.0, error="first-now")
    PerfResult.objects.create(
        target=first, measured_at=now - timedelta(days=3), outcome="ok", duration_ms=12.0, error="first-old"
    )
    PerfResult.objects.create(target=second, measured_at=now, outcome="failed", duration_ms=13.0, error="second-now")
    url = reverse("admin:performance_perfresult_changelist")

    by_target = admin_client.get(url, {"target__id__exact": first.pk}).content.decode()
    assert "first-now" in by_target and "first-old" in by_target and "second-now" not in by_target

    today = admin_client.get(
        url, {"target__id__exact": first.pk, "measured_at__gte": (now - timedelta(hours=1)).isoformat()}
    ).content.decode()
    assert "first-now" in today and "first-old" not in today
