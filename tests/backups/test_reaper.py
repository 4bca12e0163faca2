"""A killed worker never leaves a run "running": the reaper marks it failed and removes its partial files."""

from __future__ import annotations

import os
import signal
import time
from datetime import timedelta

import pytest

from backups.models import BackupRun
from backups.services.backup import backup_run_create, backup_run_enqueue
from backups.services.reaper import backup_runs_reap_stale
from backups.tasks import reap_stale_runs
from tests.backups.conftest import files_under
from tests.conftest import wait_for

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.faults
def test_sigkill_mid_backup_then_the_reaper_fails_the_run_and_removes_partial_files(
    backup_dir, settings, tmp_path, celery_worker_process, run_backup
):
    # A FIFO as a file to back up: the backup blocks mid-stream until we decide, so the kill lands mid-backup.
    slow = tmp_path / "slow.env"
    os.mkfifo(slow)
    worker = celery_worker_process(
        queues="backups",
        extra_env={"BACKUP_DIR": str(backup_dir), "BACKUP_FILES": str(slow), "BACKUP_PROGRESS_EVERY": "200ms"},
    )
    feeder = os.open(slow, os.O_RDWR | os.O_NONBLOCK)  # keeps the FIFO open without blocking, never sends EOF
    try:
        os.write(feeder, b"SECRET=1\n" * 4000)
        run = backup_run_enqueue(trigger=BackupRun.Trigger.API)
        wait_for(
            lambda: any(name.endswith(".partial") for name in files_under(backup_dir)),
            timeout=60,
            what="the worker to write a partial file",
        )
        wait_for(
            lambda: BackupRun.objects.filter(pk=run.pk, current_artifact__startswith="file:").exists(),
            timeout=30,
            what="progress showing the current artifact",
        )
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait(timeout=30)
    finally:
        os.close(feeder)

    run.refresh_from_db()
    assert run.status == BackupRun.Status.RUNNING
    assert backup_runs_reap_stale() == []  # its heartbeat is still fresh
    settings.BACKUP_STALE_AFTER = timedelta(seconds=1)
    time.sleep(1.5)
    assert reap_stale_runs() == 1
    run.refresh_from_db()
    assert run.status == BackupRun.Status.FAILED
    assert "worker lost" in run.error
    assert files_under(backup_dir) == []

    settings.BACKUP_FILES = []
    assert run_backup().status == BackupRun.Status.SUCCEEDED


def test_the_reaper_fails_a_queued_run_no_worker_took(backup_dir, settings):
    run = backup_run_create(trigger=BackupRun.Trigger.SCHEDULED)
    BackupRun.objects.filter(pk=run.pk).update(created_at=run.created_at - timedelta(hours=1))
    settings.BACKUP_STALE_AFTER = timedelta(minutes=10)
    assert [r.pk for r in backup_runs_reap_stale()] == [run.pk]
    run.refresh_from_db()
    assert run.status == BackupRun.Status.FAILED and "no worker" in run.error
    backup_run_create(trigger=BackupRun.Trigger.CLI)  # no longer blocks new backups


def test_the_reaper_has_a_default_schedule_on_the_backups_queue(db):
    from django_celery_beat.models import PeriodicTask

    task = PeriodicTask.objects.get(task="backups.tasks.reap_stale_runs")
    assert task.queue == "backups" and task.enabled


def test_the_reaper_fails_a_restore_whose_heartbeat_stopped(backup_dir, settings):
    from backups.models import RestoreRun
    from backups.services.reaper import restore_runs_reap_stale

    settings.BACKUP_STALE_AFTER = timedelta(minutes=10)
    from django.utils import timezone

    lost = RestoreRun.objects.create(status=RestoreRun.Status.RUNNING, target="database:default",
                                     started_at=timezone.now() - timedelta(hours=1),
                                     heartbeat_at=timezone.now() - timedelta(minutes=11))
    alive = RestoreRun.objects.create(status=RestoreRun.Status.RUNNING, target="database:default",
                                      started_at=timezone.now() - timedelta(hours=1), heartbeat_at=timezone.now())
    assert [r.pk for r in restore_runs_reap_stale()] == [lost.pk]
    lost.refresh_from_db()
    alive.refresh_from_db()
    assert lost.status == RestoreRun.Status.FAILED and "worker lost" in lost.error
    assert alive.status == RestoreRun.Status.RUNNING
