"""Restore from a run's page: what is overwritten, a safety backup first, the database name typed; then a task."""

from __future__ import annotations

import pytest
from django.contrib.admin.models import LogEntry
from django.db import connection
from django.urls import reverse
from django.utils import translation

from backups.admin.log_repr import change_message
from backups.models import BackupRun, RestoreRun
from backups.services.restore import restore_run_execute
from tests.backups.conftest import make_run

pytestmark = pytest.mark.django_db


def full_run() -> BackupRun:
    run = make_run()
    run.artifacts.create(kind="database", name="default", path="p/01", sha256="0" * 64, format="pg_dump-custom")
    run.artifacts.create(kind="file", name="/srv/opsportal/.env", path="p/02", sha256="1" * 64, format="file")
    return run


def test_the_confirmation_page_lists_what_is_overwritten_and_asks_for_the_database_name(super_client):
    run = full_run()
    page = super_client.get(reverse("admin:backups_backuprun_restore", args=[run.pk])).content.decode()
    database = connection.settings_dict["NAME"]
    assert f"/{database}" in page  # the live database URL it overwrites
    assert "/srv/opsportal/.env" in page
    assert "safety backup" in page.lower()
    assert f"<code>{database}</code>" in page


def test_a_wrong_name_restores_nothing(super_client):
    run = full_run()
    response = super_client.post(reverse("admin:backups_backuprun_restore", args=[run.pk]), {"confirmation": "oops"})
    assert response.status_code == 400 and b"oops" in response.content
    assert not RestoreRun.objects.exists()


def test_only_a_successful_backup_offers_a_restore(super_client):
    run = make_run(status=BackupRun.Status.FAILED)
    page = super_client.get(reverse("admin:backups_backuprun_change", args=[run.pk]))
    assert b'id="restore-link"' not in page.content
    response = super_client.post(reverse("admin:backups_backuprun_restore", args=[run.pk]), {"confirmation": "restore"})
    assert response.status_code == 302 and not RestoreRun.objects.exists()


def test_the_right_name_queues_a_restore_whose_page_follows_it_to_the_end(
    super_client, backup_dir, settings, tmp_path, run_backup, django_capture_on_commit_callbacks
):
    env_file = tmp_path / "portal.env"
    env_file.write_text("SECRET=before\n")
    settings.BACKUP_FILES = [str(env_file)]
    run = run_backup(only=[f"file:{env_file}"])
    env_file.write_text("SECRET=changed\n")

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = super_client.post(
            reverse("admin:backups_backuprun_restore", args=[run.pk]), {"confirmation": "restore"}
        )
    restore = RestoreRun.objects.get()
    assert restore.status == RestoreRun.Status.QUEUED and restore.triggered_by_name == "root"
    assert response["Location"] == reverse("admin:backups_restorerun_change", args=[restore.pk])
    assert len(callbacks) == 1
    entry = LogEntry.objects.get(object_id=str(run.pk))
    assert change_message(entry) == f"Restore #{restore.pk} requested."
    # Stored as the msgid and its parameters: a Japanese reader of the run's history reads it in Japanese.
    with translation.override("ja"):
        assert change_message(entry) == f"リストア #{restore.pk} を要求しました。"
    queued_page = super_client.get(response["Location"]).content.decode()
    assert 'id="live-progress"' in queued_page
    assert reverse("admin:backups_restorerun_progress", args=[restore.pk]) in queued_page

    # What the worker does with the task (tests/backups/test_admin_worker.py runs it on a real worker).
    restore_run_execute(restore_id=restore.pk)
    assert restore_run_execute(restore_id=restore.pk) is None  # a redelivered message does nothing

    restore.refresh_from_db()
    assert restore.status == RestoreRun.Status.SUCCEEDED, restore.error
    assert env_file.read_text() == "SECRET=before\n"
    progress = super_client.get(reverse("admin:backups_restorerun_progress", args=[restore.pk])).json()
    assert progress["finished"] is True and progress["status"] == "succeeded"
    done_page = super_client.get(response["Location"]).content.decode()
    assert 'id="live-progress"' not in done_page and "succeeded" in done_page
