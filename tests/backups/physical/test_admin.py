"""The admin: run a physical backup now, and the point-in-time restore form (window shown, typed confirmation)."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from backups.models import BackupRun, RestoreRun
from backups.physical.backup import physical_backup_create
from backups.services.backup import backup_run_execute
from backups.services.restore import restore_run_execute
from tests.backups.physical.conftest import order_ids, write_rows
from tests.conftest import free_port

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def operator(client, django_user_model):
    user = django_user_model.objects.create_user("operator", password="pw", is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(codename__in=["view_backuprun", "run_backup",
                                                                       "restore_backup", "view_restorerun"]))
    client.force_login(user)
    return client


def test_the_form_shows_the_recovery_window_and_refuses_without_the_typed_stanza(physical, operator):
    run = backup_run_execute(run_id=physical_backup_create(backup_type="full", trigger="cli").pk)
    assert run.status == BackupRun.Status.SUCCEEDED, run.error
    url = reverse("admin:backups_backuprun_point_in_time")
    page = operator.get(url)
    assert page.status_code == 200
    assert "Recoverable from" in page.content.decode() and physical.stanza in page.content.decode()
    refused = operator.post(url, {"target_type": "latest", "pg_path": str(physical.folder / "admin-restored"),
                                  "port": free_port(), "confirmation": "yes"})
    assert refused.status_code == 400 and not RestoreRun.objects.exists()


def test_the_form_queues_a_restore_that_brings_the_cluster_back_on_its_port(physical, operator):
    write_rows(physical, range(1, 4))
    backup_run_execute(run_id=physical_backup_create(backup_type="full", trigger="cli").pk)
    physical.switch_and_wait()
    port = free_port()
    response = operator.post(reverse("admin:backups_backuprun_point_in_time"), {
        "target_type": "latest", "pg_path": str(physical.folder / "admin-restored"), "port": port,
        "confirmation": physical.stanza})
    restore = RestoreRun.objects.get()
    assert response.status_code == 302 and response["Location"].endswith(f"/{restore.pk}/change/")
    assert restore.kind == "physical" and restore.triggered_by_name == "operator"
    done = restore_run_execute(restore_id=restore.pk)  # what the worker does with the queued task
    assert done.status == RestoreRun.Status.SUCCEEDED, done.error
    assert order_ids(port) == [1, 2, 3]
    assert "opsportal-before-restore" in operator.get(
        reverse("admin:backups_restorerun_change", args=[restore.pk])).content.decode()


def test_run_physical_backup_now_queues_a_physical_run(physical, operator):
    response = operator.post(reverse("admin:backups_backuprun_run_physical_now"), {"type": "full"})
    run = BackupRun.objects.get()
    assert response.status_code == 302
    assert run.kind == "physical" and run.physical_type == "full" and run.status == BackupRun.Status.QUEUED
    listing = operator.get(reverse("admin:backups_backuprun_changelist")).content.decode()
    assert "Run physical backup now" in listing and "pgbackrest expire" in listing
