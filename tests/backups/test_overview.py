"""The backups partial of the admin index: last backup age and size, verification, drill, running job, button."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import AnonymousUser
from django.template.loader import render_to_string
from django.test import RequestFactory
from django.urls import reverse
from django.utils import timezone

from backups.models import BackupRun
from backups.selectors import backup_overview
from tests.backups.conftest import make_run, make_user

pytestmark = pytest.mark.django_db


def render_for(user) -> str:
    request = RequestFactory().get("/admin/")
    request.user = user
    return render_to_string("admin/overview/_backups.html", {"backup_overview": backup_overview()}, request=request)


def test_without_any_backup_it_says_so():
    assert "No successful backup yet." in render_for(make_user("viewer"))


def test_it_shows_the_last_backup_its_checks_and_the_button_for_those_allowed():
    now = timezone.now()
    drilled = make_run(
        created_at=now - timedelta(days=2),
        verification=BackupRun.Verification.DRILL_PASSED,
        verified_at=now - timedelta(days=1),
        drill_rto_seconds=4.24,
    )
    last = make_run(created_at=now - timedelta(hours=5), total_bytes=3 * 1024 * 1024)
    make_run(trigger=BackupRun.Trigger.SAFETY, only=["database:default"])  # not "the last backup"

    html = render_for(make_user("runner", permissions=("run_backup",)))

    assert reverse("admin:backups_backuprun_change", args=[last.pk]) in html
    assert "3.0\xa0MB" in html and "4 hours ago" in html
    assert "not verified" in html
    assert "RTO 4.2 s" in html and f"#{drilled.pk}" in html
    assert "No backup is running." in html
    assert reverse("admin:backups_backuprun_run_now") in html
    assert reverse("admin:backups_backuprun_run_now") not in render_for(make_user("viewer"))
    assert reverse("admin:backups_backuprun_run_now") not in render_for(AnonymousUser())


def test_a_running_backup_shows_its_progress_instead_of_the_button():
    make_run()
    active = make_run(status=BackupRun.Status.RUNNING, bytes_done=7 * 1024 * 1024, current_artifact="database:default")
    html = render_for(make_user("root", superuser=True))
    assert f"#{active.pk}" in html and "7.0\xa0MB done, database:default" in html
    assert reverse("admin:backups_backuprun_run_now") not in html


def test_a_failure_after_the_last_success_is_shown():
    make_run(created_at=timezone.now() - timedelta(days=1))
    failed = make_run(status=BackupRun.Status.FAILED, error="pg_dump: connection refused")
    html = render_for(make_user("viewer"))
    assert f"#{failed.pk}" in html and "pg_dump: connection refused" in html
