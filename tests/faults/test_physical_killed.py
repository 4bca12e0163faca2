"""The worker is SIGKILLed mid physical backup and mid point-in-time restore (real Celery worker, real pgBackRest)."""

from __future__ import annotations

import signal
import time

import psutil
import pytest

from backups.models import BackupRun, RestoreRun
from backups.physical.backup import physical_backup_create, physical_backup_enqueue
from backups.physical.catalog import physical_catalog_reindex
from backups.physical.cluster import free_port, scratch_clusters_reap
from backups.physical.info import stanza_info
from backups.physical.restore import physical_restore_enqueue
from backups.services.backup import backup_run_execute
from backups.services.reaper import backup_runs_reap_stale
from tests.backups.physical.conftest import order_ids, write_rows
from tests.conftest import wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.faults]


def _worker_env(cluster) -> dict[str, str]:
    return {
        "BACKUP_PGBACKREST_STANZA": cluster.stanza, "BACKUP_PGBACKREST_CONFIG": str(cluster.conf),
        "BACKUP_PGBACKREST_USER": "postgres",
        "BACKUP_PGBACKREST_DATABASE": f"postgres://postgres@127.0.0.1:{cluster.port}/postgres",
        "BACKUP_PGBACKREST_PG_PATH": str(cluster.data), "BACKUP_PGBACKREST_PG_SOCKET_PATH": str(cluster.folder),
        "BACKUP_PGBACKREST_REPO_PATH": str(cluster.repo), "BACKUP_PGBACKREST_CIPHER_PASS_FILE": str(cluster.pass_file),
        "BACKUP_PGBACKREST_SCRATCH_DIR": str(cluster.scratch), "BACKUP_PROGRESS_EVERY": "0.5s",
    }


def _pgbackrest_processes(command: str) -> list[psutil.Process]:
    found = []
    for process in psutil.process_iter(["name", "cmdline"]):
        try:
            if process.info["name"] == "pgbackrest" and command in (process.info["cmdline"] or []):
                found.append(process)
        except psutil.NoSuchProcess:
            continue
    return found


def _bulk(cluster, rows: int) -> None:
    with cluster.connect() as conn:
        conn.execute("CREATE TABLE bulk AS SELECT g, md5(g::text) || md5((g+1)::text) AS pad "
                     "FROM generate_series(1, %s) g", [rows])


def test_a_worker_killed_mid_backup_leaves_no_set_and_the_next_backup_works(
        physical, celery_worker_process, settings):
    write_rows(physical, range(1, 11))
    _bulk(physical, 2_500_000)  # a few hundred MB: the backup is still running when the worker dies
    worker = celery_worker_process(queues="backups", extra_env=_worker_env(physical))
    run = physical_backup_enqueue(backup_type="full", trigger=BackupRun.Trigger.MANUAL, actor="test")
    wait_for(lambda: _pgbackrest_processes("backup"), timeout=120, interval=0.1, what="pgbackrest backup to start")
    time.sleep(1.0)
    worker.send_signal(signal.SIGKILL)
    worker.wait(timeout=30)
    wait_for(lambda: not _pgbackrest_processes("backup"), timeout=30, what="pgbackrest to die with its worker")

    settings.BACKUP_STALE_AFTER = __import__("datetime").timedelta(seconds=1)
    time.sleep(2)
    assert [r.pk for r in backup_runs_reap_stale()] == [run.pk]
    run.refresh_from_db()
    assert run.status == BackupRun.Status.FAILED and "worker lost" in run.error
    assert stanza_info().by_run_uuid(str(run.uuid)) is None  # no half set counts as a backup
    physical_catalog_reindex()
    assert not BackupRun.objects.filter(kind="physical", status=BackupRun.Status.SUCCEEDED).exists()

    again = backup_run_execute(run_id=physical_backup_create(backup_type="full", trigger="cli").pk)
    assert again.status == BackupRun.Status.SUCCEEDED, again.error  # pgBackRest's lock and backup mode were freed
    assert order_ids(physical.port) == list(range(1, 11))


def test_a_worker_killed_mid_restore_leaves_the_cluster_untouched_and_the_reaper_removes_the_partial_one(
        physical, celery_worker_process):
    write_rows(physical, range(1, 11))
    _bulk(physical, 2_500_000)
    done = backup_run_execute(run_id=physical_backup_create(backup_type="full", trigger="cli").pk)
    assert done.status == BackupRun.Status.SUCCEEDED, done.error
    worker = celery_worker_process(queues="backups", extra_env=_worker_env(physical))
    target = physical.folder / "restored"
    restore = physical_restore_enqueue(target_type="latest", pg_path=str(target), port=free_port(), actor="test")
    wait_for(lambda: _pgbackrest_processes("restore"), timeout=120, interval=0.1, what="pgbackrest restore to start")
    time.sleep(0.5)
    worker.send_signal(signal.SIGKILL)
    worker.wait(timeout=30)
    wait_for(lambda: not _pgbackrest_processes("restore"), timeout=30, what="pgbackrest to die with its worker")

    reaped = scratch_clusters_reap()

    assert reaped == [str(target)]
    assert not target.exists()
    restore.refresh_from_db()
    assert restore.status == RestoreRun.Status.FAILED and "worker lost mid-restore" in restore.error
    assert order_ids(physical.port) == list(range(1, 11))
    assert scratch_clusters_reap() == []
