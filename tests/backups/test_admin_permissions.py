"""Who may press which button: anonymous, staff (history only), staff with run_backup, superuser.

Every button is also POSTed directly: the server refuses without the permission, whatever the page showed.
"""

from __future__ import annotations

import pytest
from django.contrib.admin.models import LogEntry
from django.urls import reverse

from backups.models import BackupRun
from tests.backups.conftest import make_run, make_user

pytestmark = [pytest.mark.django_db, pytest.mark.security]

ROLES = ["anonymous", "staff", "runner", "superuser"]
ALLOWED = {
    "run_now": {"runner", "superuser"},
    "verify": {"runner", "superuser"},
    "drill": {"runner", "superuser"},
    "pin": {"runner", "superuser"},
    "unpin": {"runner", "superuser"},
    "restore": {"superuser"},
    "delete": {"superuser"},
}


def login(client, role: str):
    if role == "staff":
        client.force_login(make_user("viewer"))
    elif role == "runner":
        client.force_login(make_user("runner", permissions=("run_backup",)))
    elif role == "superuser":
        client.force_login(make_user("root", superuser=True))
    return client


def press(client, button: str, run: BackupRun):
    if button == "run_now":
        return client.post(reverse("admin:backups_backuprun_run_now"))
    if button == "restore":
        return client.post(reverse("admin:backups_backuprun_restore", args=[run.pk]), {"confirmation": "restore"})
    if button == "delete":
        return client.post(reverse("admin:backups_backuprun_delete", args=[run.pk]), {"post": "yes"})
    return client.post(reverse(f"admin:backups_backuprun_{button}", args=[run.pk]))


def effect(button: str, run: BackupRun) -> bool:
    """Whether pressing the button changed anything."""
    if button == "run_now":
        return BackupRun.objects.filter(trigger=BackupRun.Trigger.MANUAL).exists()
    if button == "delete":
        return not BackupRun.objects.filter(pk=run.pk).exists()
    if button in ("pin", "unpin"):
        return BackupRun.objects.get(pk=run.pk).pinned == (button == "pin")
    if button == "restore":
        return run.restores.exists()
    return LogEntry.objects.filter(object_id=str(run.pk)).exists()  # verify / drill: requested and logged


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("button", list(ALLOWED))
def test_each_button_is_refused_on_the_server_without_the_permission(client, role, button):
    run = make_run(pinned=button == "unpin")
    if button == "restore":
        run.artifacts.create(
            kind="file", name="/nonexistent/opsportal-test.env", path="x/1", sha256="0" * 64, format="f"
        )
    login(client, role)

    response = press(client, button, run)

    if role == "anonymous":
        assert response.status_code == 302 and "/login/" in response["Location"]
        assert not effect(button, run)
    elif role in ALLOWED[button]:
        assert response.status_code == 302, response.content[:500]
        assert effect(button, run)
        assert LogEntry.objects.filter(user__username={"runner": "runner", "superuser": "root"}[role]).exists()
    else:
        assert response.status_code == 403
        assert not effect(button, run)


def test_buttons_shown_match_the_permissions(client):
    run = make_run()
    changelist = reverse("admin:backups_backuprun_changelist")
    change = reverse("admin:backups_backuprun_change", args=[run.pk])
    expected = {
        "staff": set(),
        "runner": {"Run backup now", "Verify", "Drill", "Pin"},
        "superuser": {"Run backup now", "Verify", "Drill", "Pin", "Restore…", "Delete"},
    }
    for role, shown in expected.items():
        client.logout()
        login(client, role)
        listing = client.get(changelist)
        assert listing.status_code == 200 and f">{run.pk}<".encode() in listing.content  # history for everyone
        page = client.get(change)
        assert page.status_code == 200
        text = listing.content.decode() + page.content.decode()
        assert ("Run backup now" in text) == ("Run backup now" in shown), role
        assert ('name="verify"' in text) == ("Verify" in shown), role
        assert ('name="drill"' in text) == ("Drill" in shown), role
        assert ('name="pin"' in text) == ("Pin" in shown), role
        assert ('id="restore-link"' in text) == ("Restore…" in shown), role
        assert ('id="delete-link"' in text) == ("Delete" in shown), role


@pytest.mark.parametrize("role", ROLES)
def test_changelist_actions_need_the_run_permission(client, role):
    run = make_run()
    login(client, role)
    client.post(reverse("admin:backups_backuprun_changelist"), {"action": "pin_selected", "_selected_action": [run.pk]})
    run.refresh_from_db()
    assert run.pinned == (role in {"runner", "superuser"})


@pytest.mark.parametrize("role", ROLES)
def test_the_progress_endpoint_is_for_those_who_see_the_history(client, role):
    run = make_run(status=BackupRun.Status.RUNNING, bytes_done=3 * 1024 * 1024, current_artifact="database:default")
    login(client, role)
    response = client.get(reverse("admin:backups_backuprun_progress", args=[run.pk]))
    if role == "anonymous":
        assert response.status_code == 302
        return
    assert response.status_code == 200
    data = response.json()
    assert data["finished"] is False
    assert data["fields"]["bytes_done"] == "3.0\xa0MB"
    assert data["fields"]["current_artifact"] == "database:default"


def test_a_pinned_or_running_run_cannot_be_deleted_even_by_a_superuser(super_client):
    pinned = make_run(pinned=True)
    running = make_run(status=BackupRun.Status.RUNNING)
    for run in (pinned, running):
        response = super_client.post(reverse("admin:backups_backuprun_delete", args=[run.pk]), {"post": "yes"})
        assert response.status_code == 403
        assert BackupRun.objects.filter(pk=run.pk).exists()
