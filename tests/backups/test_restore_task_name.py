"""The restore task was registered as `backups.tasks.restore_run_execute` before it became `backups.tasks.run_restore`:
a message queued under the old name (by a portal of the previous release) is still carried out by a worker."""

from __future__ import annotations

import pytest

from backups.models import BackupRun, RestoreRun
from backups.services.restore import restore_run_create
from opsportal.celery import app
from tests.conftest import wait_for

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.parametrize("task_name", ["backups.tasks.run_restore", "backups.tasks.restore_run_execute"])
def test_a_worker_carries_out_a_restore_queued_under_either_task_name(
    task_name, backup_dir, settings, tmp_path, run_backup, celery_worker_process
):
    env_file = tmp_path / "portal.env"
    env_file.write_text("SECRET=before\n")
    settings.BACKUP_FILES = [str(env_file)]
    backup = run_backup(only=[f"file:{env_file}"])
    assert backup.status == BackupRun.Status.SUCCEEDED, backup.error
    env_file.write_text("SECRET=changed\n")
    restore = restore_run_create(run_id=backup.pk, actor="test")
    assert restore.status == RestoreRun.Status.QUEUED

    celery_worker_process(queues="backups", extra_env={"BACKUP_DIR": str(backup_dir), "BACKUP_FILES": str(env_file)})
    app.send_task(task_name, args=[restore.pk])

    def finished() -> bool:
        restore.refresh_from_db()
        return restore.status not in (RestoreRun.Status.QUEUED, RestoreRun.Status.RUNNING)

    wait_for(finished, timeout=120, interval=0.2, what="the worker to carry out the restore")
    assert restore.status == RestoreRun.Status.SUCCEEDED, restore.error
    assert env_file.read_text() == "SECRET=before\n"
