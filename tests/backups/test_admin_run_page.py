"""A run's page: its files, manifest, log, error, linked restores; live progress; Delete; Run backup now refusals."""

from __future__ import annotations

import html
from pathlib import Path

import pytest
from django.contrib.admin.models import ADDITION, DELETION, LogEntry
from django.contrib.staticfiles import finders
from django.urls import reverse

from backups.models import BackupRun, RestoreRun
from tests.backups.conftest import files_under, make_run

pytestmark = pytest.mark.django_db


def test_the_page_shows_artifacts_manifest_log_and_linked_restores(super_client, backup_dir, run_backup):
    run = run_backup()
    artifact = run.artifacts.get()
    safety = make_run(trigger=BackupRun.Trigger.SAFETY)
    restore = RestoreRun.objects.create(source_run=run, safety_run=safety, target="database:x", status="succeeded")

    page = html.unescape(super_client.get(reverse("admin:backups_backuprun_change", args=[run.pk])).content.decode())

    assert artifact.sha256 in page and artifact.path in page
    assert f'"sha256": "{artifact.sha256}"' in page  # the manifest, read from storage
    assert "database:default: started" in page  # the log
    assert reverse("admin:backups_restorerun_change", args=[restore.pk]) in page
    assert 'id="live-progress"' not in page  # finished: nothing to poll
    safety_page = super_client.get(reverse("admin:backups_backuprun_change", args=[safety.pk])).content.decode()
    assert reverse("admin:backups_restorerun_change", args=[restore.pk]) in safety_page  # "safety backup for"


def test_a_failed_run_shows_its_error_in_full(super_client):
    error = "file:/srv/opsportal/.env: " + "permission denied " * 40
    run = make_run(status=BackupRun.Status.FAILED, error=error)
    page = html.unescape(super_client.get(reverse("admin:backups_backuprun_change", args=[run.pk])).content.decode())
    assert error.strip() in page


def test_a_running_run_polls_its_progress_with_a_script_the_portal_serves(super_client):
    run = make_run(status=BackupRun.Status.RUNNING, bytes_done=2048, current_artifact="database:default")
    page = super_client.get(reverse("admin:backups_backuprun_change", args=[run.pk])).content.decode()
    assert 'id="live-progress"' in page
    assert reverse("admin:backups_backuprun_progress", args=[run.pk]) in page
    assert "/static/backups/progress.js" in page and "http" not in page.split("progress.js")[0].rsplit("src=", 1)[1]
    script = finders.find("backups/progress.js")
    assert script and "fetch(" in Path(script).read_text()


def test_delete_uses_the_confirmation_page_and_removes_the_files(super_client, backup_dir, run_backup):
    run = run_backup()
    assert files_under(backup_dir)
    url = reverse("admin:backups_backuprun_delete", args=[run.pk])

    confirm = super_client.get(url)
    assert confirm.status_code == 200 and b"are deleted too" in confirm.content
    assert BackupRun.objects.filter(pk=run.pk).exists()

    super_client.post(url, {"post": "yes"})
    assert not BackupRun.objects.filter(pk=run.pk).exists()
    assert files_under(backup_dir) == []
    assert LogEntry.objects.filter(object_id=str(run.pk), action_flag=DELETION).exists()


def test_a_file_that_cannot_be_deleted_keeps_the_run_and_is_reported(super_client, backup_dir, run_backup):
    run = run_backup()
    artifact = run.artifacts.get()
    stored = backup_dir / artifact.path
    stored.unlink()
    (stored / "something").mkdir(parents=True)  # a non-empty folder where the file was: storage.delete fails

    response = super_client.post(reverse("admin:backups_backuprun_delete", args=[run.pk]), {"post": "yes"}, follow=True)

    assert BackupRun.objects.filter(pk=run.pk).exists()
    assert artifact.path in response.content.decode() and "could not be deleted" in response.content.decode()
    run.refresh_from_db()
    assert f"could not delete {artifact.path}" in run.log
    assert not LogEntry.objects.filter(object_id=str(run.pk), action_flag=DELETION).exists()


def test_run_backup_now_while_one_runs_says_so_and_creates_nothing(runner_client):
    busy = make_run(status=BackupRun.Status.RUNNING)
    response = runner_client.post(reverse("admin:backups_backuprun_run_now"), follow=True)
    text = response.content.decode()
    assert f"Backup #{busy.pk} is already running" in text
    assert reverse("admin:backups_backuprun_change", args=[busy.pk]) in text
    assert BackupRun.objects.count() == 1


def test_run_backup_now_queues_a_manual_run_records_the_user_and_links_it(
    runner_client, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = runner_client.post(reverse("admin:backups_backuprun_run_now"), follow=True)
    run = BackupRun.objects.get()
    assert run.status == BackupRun.Status.QUEUED and run.trigger == BackupRun.Trigger.MANUAL
    assert run.triggered_by.username == "runner" and run.triggered_by_name == "runner"
    assert len(callbacks) == 1  # enqueued only once the run is committed
    assert reverse("admin:backups_backuprun_change", args=[run.pk]) in response.content.decode()
    entry = LogEntry.objects.get(object_id=str(run.pk))
    assert entry.action_flag == ADDITION and entry.user.username == "runner"


def test_run_backup_now_refuses_get(runner_client):
    assert runner_client.get(reverse("admin:backups_backuprun_run_now")).status_code == 405
    assert not BackupRun.objects.exists()
