"""A worker SIGKILLed in the middle of restoring the portal's database: the target ends either exactly as it was
before the restore or exactly as in the backup, never in between (pg_restore runs in one transaction)."""

from __future__ import annotations

import os
import signal
import time
from datetime import timedelta

import psutil
import psycopg
import pytest

from backups.models import BackupRun, RestoreRun
from backups.services.restore import restore_run_create
from backups.services.swap import memory_folder
from backups.tasks import reap_stale_runs, run_restore
from tests.backups.conftest import current_db_url, worker_env_of
from tests.conftest import wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.faults]

STATE = "SELECT (SELECT count(*) FROM rel_big), (SELECT sum(id) FROM rel_big), (SELECT note FROM rel_marker)"


@pytest.fixture
def big_tables(django_db_blocker):
    """Tables outside any model, large enough that pg_restore runs for a while."""
    with django_db_blocker.unblock(), psycopg.connect(current_db_url(), autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS rel_big, rel_marker")
        conn.execute(
            "CREATE TABLE rel_big AS SELECT g AS id, repeat(md5(g::text), 4) AS pad FROM generate_series(1, 600000) g"
        )
        conn.execute("CREATE INDEX rel_big_pad ON rel_big (pad)")  # rebuilt by pg_restore: a longer window
        conn.execute("CREATE TABLE rel_marker (note text); INSERT INTO rel_marker VALUES ('at backup time')")
    yield
    with django_db_blocker.unblock(), psycopg.connect(current_db_url(), autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS rel_big, rel_marker")


def _state() -> tuple:
    with psycopg.connect(current_db_url(), autocommit=True) as conn:
        return conn.execute(STATE).fetchone()


def _pg_restore_active() -> bool:
    with psycopg.connect(current_db_url(), autocommit=True) as conn:
        return bool(
            conn.execute(
                "SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'pg_restore'"
            ).fetchone()
        )


def _pg_restore_of(worker_pid: int) -> bool:
    try:
        return any(child.name() == "pg_restore" for child in psutil.Process(worker_pid).children(recursive=True))
    except psutil.NoSuchProcess:
        return False


def test_sigkill_mid_restore_leaves_the_database_as_before_or_as_restored(
    backup_dir, big_tables, celery_worker_process, run_backup, settings
):
    backup = run_backup()
    assert backup.status == BackupRun.Status.SUCCEEDED, backup.error
    at_backup = _state()
    with psycopg.connect(current_db_url(), autocommit=True) as conn:
        conn.execute("DELETE FROM rel_big WHERE id % 3 = 0; UPDATE rel_marker SET note = 'changed after the backup'")
    before_restore = _state()
    assert before_restore != at_backup

    worker = celery_worker_process(
        queues="backups",
        extra_env=worker_env_of(backup_dir, settings),
    )
    restore = restore_run_create(run_id=backup.pk, actor="test")
    run_restore.delay(restore.pk)

    def restoring() -> bool:
        status = RestoreRun.objects.filter(pk=restore.pk).values_list("status", "error").first()
        assert status is None or status[0] in (RestoreRun.Status.QUEUED, RestoreRun.Status.RUNNING), status
        return _pg_restore_of(worker.pid)

    wait_for(restoring, timeout=120, interval=0.01, what="pg_restore to be running")
    os.kill(worker.pid, signal.SIGKILL)
    worker.wait(timeout=30)
    # The orphaned pg_restore sees its input end and rolls back, or it had everything and commits.
    wait_for(lambda: not _pg_restore_active(), timeout=120, what="pg_restore to end")

    after = _state()
    assert after in (before_restore, at_backup), after
    print(f"after SIGKILL mid-restore: {'unchanged' if after == before_restore else 'fully restored'}")
    # No restore stays "running": once its heartbeat is stale the reaper fails it, saying what that means.
    settings.BACKUP_STALE_AFTER = timedelta(seconds=1)
    time.sleep(1.5)
    reap_stale_runs()
    in_memory = memory_folder(1)  # the killed worker's decoded artifact (tmpfs) is removed by the reaper
    assert not list(in_memory.glob("*.pgdump"))
    in_memory.rmdir()
    left = RestoreRun.objects.filter(pk=restore.pk).first()
    if after == before_restore:
        assert left.status == RestoreRun.Status.FAILED
        assert "worker lost" in left.error and "either unchanged or fully restored" in left.error
    else:  # the restored catalog predates this restore: its record went back in time with everything else
        assert left is None or left.status != RestoreRun.Status.RUNNING
    # The portal still works on the database the restore left behind: a new backup succeeds.
    assert run_backup().status == BackupRun.Status.SUCCEEDED
