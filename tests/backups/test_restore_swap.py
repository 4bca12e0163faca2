"""An in-place restore of a PostgreSQL database is built beside it with pg_restore -j and swapped in (issue 14.1, 20.3).

The moment the restored database is the live one, its catalog is right: the restored backup succeeded, this restore
succeeded, the safety backup listed; no reaper, beat or re-index runs afterwards in these tests. A worker killed
during pg_restore -j leaves the old database as it was (its leftover new database is dropped by the reaper); a
failing restore leaves the old database untouched and drops the new one.
"""

from __future__ import annotations

import hashlib
import os
import signal
from datetime import timedelta
from pathlib import Path

import psutil
import psycopg
import pytest
import zstandard
from django.db import connection, connections

from backups.models import BackupRun, RestoreRun
from backups.services.catalog_pending import marker_path
from backups.services.restore import restore_run_create, restore_run_create_and_execute
from backups.services.swap import memory_folder
from backups.tasks import reap_stale_runs
from backups.tasks import run_restore as restore_task
from tests.backups.conftest import PG, current_db_url, worker_env_of
from tests.conftest import wait_for

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def marked(django_db_blocker):
    """A table outside any model telling which database is live; enough rows for pg_restore to take a while."""
    with django_db_blocker.unblock(), psycopg.connect(current_db_url(), autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS swap_marker, swap_big")
        conn.execute("CREATE TABLE swap_marker (note text); INSERT INTO swap_marker VALUES ('at backup time')")
        conn.execute(
            "CREATE TABLE swap_big AS SELECT g AS id, repeat(md5(g::text), 4) AS pad FROM generate_series(1, 300000) g"
        )
        conn.execute("CREATE INDEX swap_big_pad ON swap_big (pad)")
    yield
    with django_db_blocker.unblock(), psycopg.connect(current_db_url(), autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS swap_marker, swap_big")


def _note() -> str:
    with psycopg.connect(current_db_url(), autocommit=True) as conn:
        return conn.execute("SELECT note FROM swap_marker").fetchone()[0]


def _change_note() -> None:
    with psycopg.connect(current_db_url(), autocommit=True) as conn:
        conn.execute("UPDATE swap_marker SET note = 'changed after the backup'")


def _side_databases() -> list[str]:
    """The restore's databases beside this test's own (other test sessions may run on the same server)."""
    live = current_db_url().rsplit("/", 1)[1]
    with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
        names = [row[0] for row in conn.execute("SELECT datname FROM pg_database")]
    return [
        name for name in names if name.startswith(f"{live}__restoring_") or name.startswith(f"{live}__before_restore_")
    ]


def _fresh() -> None:
    for alias in connections:
        connections[alias].close()


def _assert_catalog_right(backup: BackupRun, restore_id: int | None = None) -> RestoreRun:
    """Read straight after the restore, with nothing run in between."""
    _fresh()
    assert BackupRun.objects.get(uuid=backup.uuid).status == BackupRun.Status.SUCCEEDED
    restore = RestoreRun.objects.get(pk=restore_id) if restore_id else RestoreRun.objects.get()
    assert restore.status == RestoreRun.Status.SUCCEEDED, restore.error
    assert restore.source_run.uuid == backup.uuid
    assert "pg_restore -j" in restore.log
    assert BackupRun.objects.filter(trigger=BackupRun.Trigger.SAFETY, status=BackupRun.Status.SUCCEEDED).exists()
    assert not BackupRun.objects.filter(status=BackupRun.Status.RUNNING).exists()
    assert not marker_path().exists()  # nothing is owed to a later re-index
    return restore


def test_restoring_the_portal_database_swaps_in_a_database_whose_catalog_is_already_right(
    backup_dir, marked, run_backup
):
    backup = run_backup()
    assert backup.status == BackupRun.Status.SUCCEEDED, backup.error
    _change_note()
    restore = restore_run_create_and_execute(run_id=backup.pk, actor="test")
    assert restore.status == RestoreRun.Status.SUCCEEDED, restore.error
    assert _note() == "at backup time"
    assert "swapped in" in _assert_catalog_right(backup, restore.pk).log
    assert _side_databases() == []  # the previous database is dropped (BACKUP_RESTORE_KEEP_PREVIOUS=false)


def test_the_previous_database_is_kept_as_an_undo_when_asked(backup_dir, marked, run_backup, settings):
    settings.BACKUP_RESTORE_KEEP_PREVIOUS = True
    backup = run_backup()
    _change_note()
    restore = restore_run_create_and_execute(run_id=backup.pk, actor="test")
    assert restore.status == RestoreRun.Status.SUCCEEDED, restore.error
    kept = _side_databases()
    try:
        assert [name.rsplit("__", 1)[1] for name in kept] == [f"before_restore_{restore.pk}"]
        reap_stale_runs()  # a kept undo is not a leftover
        assert _side_databases() == kept
    finally:
        with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
            for name in kept:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_a_worker_restores_the_portal_database_and_the_catalog_is_right_without_any_reindex(
    backup_dir, marked, run_backup, celery_worker_process
):
    backup = run_backup()
    assert backup.status == BackupRun.Status.SUCCEEDED, backup.error
    _change_note()
    restore = restore_run_create(run_id=backup.pk, actor="test")
    celery_worker_process(
        queues="backups", extra_env={"BACKUP_DIR": str(backup_dir), "BACKUP_FILES": "", "BACKUP_DOCKER_VOLUMES": ""}
    )
    restore_task.delay(restore.pk)

    def finished() -> bool:
        _fresh()  # the swap ends every session of the old database, this test's too
        try:
            row = RestoreRun.objects.filter(pk=restore.pk).values_list("status", flat=True).first()
        except Exception:
            return False
        return row in (RestoreRun.Status.SUCCEEDED, RestoreRun.Status.FAILED, RestoreRun.Status.REFUSED)

    wait_for(finished, timeout=300, interval=0.5, what="the restore to finish")
    # the first sight of the restored database: its catalog, written before the swap, is already right
    assert _note() == "at backup time"
    _assert_catalog_right(backup, restore.pk)

    def final_record() -> bool:
        _fresh()
        return "swapped in" in RestoreRun.objects.get(pk=restore.pk).log

    wait_for(final_record, timeout=60, what="the worker to write its full log")
    _assert_catalog_right(backup, restore.pk)
    wait_for(lambda: not _side_databases(), timeout=60, what="the previous database to be dropped")


def _pg_restore_of(worker_pid: int) -> bool:
    try:
        return any(child.name() == "pg_restore" for child in psutil.Process(worker_pid).children(recursive=True))
    except psutil.NoSuchProcess:
        return False


def test_sigkill_during_pg_restore_leaves_the_old_database_and_the_reaper_drops_the_new_one(
    backup_dir, marked, run_backup, celery_worker_process, settings
):
    backup = run_backup()
    _change_note()
    worker = celery_worker_process(
        queues="backups",
        extra_env=worker_env_of(backup_dir, settings),
    )
    restore = restore_run_create(run_id=backup.pk, actor="test")
    restore_task.delay(restore.pk)
    wait_for(
        lambda: _pg_restore_of(worker.pid) and any("__restoring_" in name for name in _side_databases()),
        timeout=300,
        interval=0.01,
        what="pg_restore -j to be running into the new database",
    )
    os.kill(worker.pid, signal.SIGKILL)
    worker.wait(timeout=30)

    _fresh()
    assert _note() == "changed after the backup"  # the old database, untouched
    settings.BACKUP_STALE_AFTER = timedelta(seconds=0)
    wait_for(
        lambda: reap_stale_runs() is not None and not _side_databases(),
        timeout=60,
        what="the reaper to drop the leftover new database",
    )
    left = RestoreRun.objects.get(pk=restore.pk)
    assert left.status == RestoreRun.Status.FAILED and "worker lost" in left.error
    assert not list((Path(settings.VAR_DIR) / "restore-tmp").glob("*.pgdump"))  # its decoded artifact: removed
    in_memory = memory_folder(1)  # the worker decoded there (tmpfs), so that is where the file was left
    assert not list(in_memory.glob("*.pgdump"))
    in_memory.rmdir()
    assert run_backup().status == BackupRun.Status.SUCCEEDED  # the portal works on the old database


def test_a_corrupt_artifact_fails_the_restore_and_leaves_the_old_database_untouched(backup_dir, marked, run_backup):
    backup = run_backup()
    artifact = backup.artifacts.get(kind="database")
    stored = backup_dir / artifact.path
    raw = zstandard.ZstdDecompressor().stream_reader(stored.open("rb")).read()
    # corrupt when it was written, so its checksum is the recorded one: only pg_restore finds out
    truncated = raw[: len(raw) // 2]
    broken = zstandard.ZstdCompressor().compress(truncated)
    stored.write_bytes(broken)
    type(artifact).objects.filter(pk=artifact.pk).update(
        sha256=hashlib.sha256(broken).hexdigest(), stored_bytes=len(broken), raw_bytes=len(truncated)
    )
    _change_note()
    restore = restore_run_create_and_execute(run_id=backup.pk, actor="test")
    assert restore.status == RestoreRun.Status.FAILED
    assert "pg_restore exited" in restore.error
    assert _note() == "changed after the backup"
    assert _side_databases() == []
    _fresh()
    assert connection.settings_dict["NAME"] == current_db_url().rsplit("/", 1)[1]
    assert BackupRun.objects.get(pk=backup.pk).status == BackupRun.Status.SUCCEEDED


@pytest.mark.parametrize("value", ["0", "many", "65"])
def test_a_bad_backup_restore_jobs_is_reported_by_a_system_check_and_2_is_used(settings, value):
    from django.core.checks import run_checks

    from backups.services.swap import restore_jobs

    settings.BACKUP_RESTORE_JOBS = value
    assert [e.id for e in run_checks() if e.id == "backups.E010"] == ["backups.E010"]
    assert restore_jobs() == 2
    settings.BACKUP_RESTORE_JOBS = "4"
    assert not [e for e in run_checks() if e.id == "backups.E010"] and restore_jobs() == 4
