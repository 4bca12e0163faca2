"""The admin buttons end to end with a REAL Celery worker: Run backup now → live progress → succeeded, then
Verify, Drill and Restore, each enqueued on the backups queue and carried out by the worker."""

from __future__ import annotations

import os

import pytest
from django.urls import reverse

from backups.models import BackupRun, RestoreRun
from tests.conftest import wait_for

pytestmark = pytest.mark.django_db(transaction=True)


def progress_of(client, run: BackupRun) -> dict:
    return client.get(reverse("admin:backups_backuprun_progress", args=[run.pk])).json()


def test_run_backup_now_then_verify_drill_and_restore_on_a_real_worker(
    super_client, backup_dir, settings, tmp_path, celery_worker_process, run_backup
):
    # A FIFO as the file to back up holds the backup mid-stream, so the page can be seen following it.
    slow = tmp_path / "slow.env"
    os.mkfifo(slow)
    feeder = os.open(slow, os.O_RDWR | os.O_NONBLOCK)  # keeps the FIFO open; closing it ends the stream
    # The worker restores only files it is configured to back up (a manifest cannot name any other path).
    env_file = tmp_path / "portal.env"
    env_file.write_text("SECRET=before\n")
    celery_worker_process(
        queues="backups",
        extra_env={
            "BACKUP_DIR": str(backup_dir),
            "BACKUP_FILES": f"{slow},{env_file}",
            "BACKUP_PROGRESS_EVERY": "200ms",
        },
    )
    try:
        os.write(feeder, b"SECRET=1\n" * 4000)
        response = super_client.post(reverse("admin:backups_backuprun_run_now"), follow=True)
        run = BackupRun.objects.get()
        assert reverse("admin:backups_backuprun_change", args=[run.pk]) in response.content.decode()
        assert run.trigger == BackupRun.Trigger.MANUAL and run.triggered_by_name == "root"

        live = wait_for(
            lambda: (p := progress_of(super_client, run))["fields"]["current_artifact"].startswith("file:") and p,
            timeout=60,
            what="the worker to report progress on the file",
        )
        assert live["finished"] is False and live["status"] == "running"
        assert live["fields"]["bytes_done"] != "0\xa0bytes"
        page = super_client.get(reverse("admin:backups_backuprun_change", args=[run.pk])).content.decode()
        assert 'id="live-progress"' in page

        again = super_client.post(reverse("admin:backups_backuprun_run_now"), follow=True).content.decode()
        assert f"Backup #{run.pk} is already running" in again
        assert BackupRun.objects.count() == 1
    finally:
        os.close(feeder)

    wait_for(lambda: progress_of(super_client, run)["finished"], timeout=60, what="the backup to finish")
    run.refresh_from_db()
    assert run.status == BackupRun.Status.SUCCEEDED, run.error
    assert {a.kind for a in run.artifacts.all()} == {"database", "file"}

    super_client.post(reverse("admin:backups_backuprun_verify", args=[run.pk]))
    wait_for(
        lambda: BackupRun.objects.filter(pk=run.pk, verification=BackupRun.Verification.VERIFIED).exists(),
        timeout=60,
        what="the worker to verify the checksums",
    )
    super_client.post(reverse("admin:backups_backuprun_drill", args=[run.pk]))
    wait_for(
        lambda: BackupRun.objects.filter(pk=run.pk, verification=BackupRun.Verification.DRILL_PASSED).exists(),
        timeout=90,
        what="the worker to run the restore drill",
    )
    run.refresh_from_db()
    assert run.drill_rto_seconds is not None and run.drill_rto_seconds > 0

    # Restore (of a file, so the test database stays as it is) is carried out by the worker too.
    settings.BACKUP_FILES = [str(env_file)]
    file_run = run_backup(only=[f"file:{env_file}"])
    env_file.write_text("SECRET=changed\n")
    response = super_client.post(
        reverse("admin:backups_backuprun_restore", args=[file_run.pk]), {"confirmation": "restore"}
    )
    restore = RestoreRun.objects.get()
    assert response["Location"] == reverse("admin:backups_restorerun_change", args=[restore.pk])
    wait_for(
        lambda: super_client.get(reverse("admin:backups_restorerun_progress", args=[restore.pk])).json()["finished"],
        timeout=60,
        what="the worker to restore",
    )
    restore.refresh_from_db()
    assert restore.status == RestoreRun.Status.SUCCEEDED, restore.error
    assert env_file.read_text() == "SECRET=before\n"
