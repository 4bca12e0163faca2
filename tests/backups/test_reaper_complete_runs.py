"""The reaper never deletes a complete backup: a run left "running" by a restore of the portal's own database (its
dump was taken mid-run) whose manifest and files are all in storage is marked succeeded from the manifest."""

from __future__ import annotations

import socket
import subprocess
from datetime import timedelta

import pytest
from django.utils import timezone

from backups.models import BackupArtifact, BackupRun
from backups.tasks import reap_stale_runs
from tests.backups.conftest import files_under

pytestmark = pytest.mark.django_db(transaction=True)


def _as_a_mid_run_dump_left_it(run: BackupRun, *, dead_worker: bool) -> None:
    """The catalog row as the dump taken during this very run holds it: running, old heartbeat, no artifacts."""
    old = timezone.now() - timedelta(hours=2)
    gone = subprocess.Popen(["true"])
    gone.wait()
    BackupArtifact.objects.filter(run=run).delete()
    BackupRun.objects.filter(pk=run.pk).update(
        status=BackupRun.Status.RUNNING, finished_at=None, heartbeat_at=old, started_at=old, total_bytes=0,
        worker_host=socket.gethostname() if dead_worker else "another-host", worker_pid=gone.pid,
    )


@pytest.mark.parametrize("dead_worker", [False, True], ids=["stale-heartbeat", "dead-worker-process"])
def test_the_reaper_keeps_the_files_of_a_complete_run_and_marks_it_succeeded(
    backup_dir, settings, run_backup, dead_worker
):
    run = run_backup()
    files = files_under(backup_dir)
    artifact = run.artifacts.get()
    _as_a_mid_run_dump_left_it(run, dead_worker=dead_worker)
    settings.BACKUP_STALE_AFTER = timedelta(minutes=10)

    assert reap_stale_runs() == 0

    assert files_under(backup_dir) == files
    repaired = BackupRun.objects.get(pk=run.pk)
    assert repaired.status == BackupRun.Status.SUCCEEDED and repaired.error == ""
    assert repaired.finished_at == run.finished_at and repaired.total_bytes == run.total_bytes
    assert [(a.path, a.sha256) for a in repaired.artifacts.all()] == [(artifact.path, artifact.sha256)]


def test_the_reaper_still_fails_and_cleans_a_run_whose_files_are_incomplete(backup_dir, settings, run_backup):
    run = run_backup()
    (backup_dir / run.artifacts.get().path).write_bytes(b"cut short")
    _as_a_mid_run_dump_left_it(run, dead_worker=False)
    settings.BACKUP_STALE_AFTER = timedelta(minutes=10)

    assert reap_stale_runs() == 1

    failed = BackupRun.objects.get(pk=run.pk)
    assert failed.status == BackupRun.Status.FAILED and "worker lost" in failed.error
    assert files_under(backup_dir) == []
