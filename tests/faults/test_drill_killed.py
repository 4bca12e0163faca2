"""A restore drill's worker SIGKILLed while pg_restore fills the scratch database: the real Celery worker, the real
server. The scratch database must not stay behind: the next reaper tick drops it, and never one a live drill owns."""

from __future__ import annotations

import os
import signal
from datetime import timedelta

import psutil
import psycopg
import pytest
from django.db import connection

from backups.models import BackupRun
from backups.services.scratch import PREFIX, scratch_database, scratch_databases_reap
from backups.services.swap import memory_folder
from backups.tasks import reap_stale_runs, verify_backup
from tests.backups.conftest import current_db_url, worker_env_of
from tests.conftest import wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.faults]


@pytest.fixture
def big_table(django_db_blocker):
    """A table outside any model, large enough that the drill's pg_restore runs for a while."""
    with django_db_blocker.unblock(), psycopg.connect(current_db_url(), autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS drill_big")
        conn.execute(
            "CREATE TABLE drill_big AS SELECT g AS id, repeat(md5(g::text), 4) AS pad FROM generate_series(1, 600000) g"
        )
        conn.execute("CREATE INDEX drill_big_pad ON drill_big (pad)")
    yield
    with django_db_blocker.unblock(), psycopg.connect(current_db_url(), autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS drill_big")


def _scratch_databases() -> list[str]:
    with psycopg.connect(current_db_url(), autocommit=True) as conn:
        return [
            row[0] for row in conn.execute("SELECT datname FROM pg_database WHERE starts_with(datname, %s)", [PREFIX])
        ]


def _pg_restore_of(worker_pid: int) -> bool:
    try:
        return any(child.name() == "pg_restore" for child in psutil.Process(worker_pid).children(recursive=True))
    except psutil.NoSuchProcess:
        return False


def test_the_reaper_drops_the_scratch_database_of_a_killed_drill(
    backup_dir, big_table, celery_worker_process, run_backup, settings
):
    backup = run_backup()
    assert backup.status == BackupRun.Status.SUCCEEDED, backup.error
    before = set(_scratch_databases())
    worker = celery_worker_process(
        queues="backups",
        extra_env=worker_env_of(backup_dir, settings),
    )
    verify_backup.delay(backup.pk, drill=True)
    wait_for(
        lambda: _pg_restore_of(worker.pid) and set(_scratch_databases()) - before,
        timeout=120,
        interval=0.01,
        what="the drill's pg_restore to fill its scratch database",
    )
    (left,) = set(_scratch_databases()) - before
    restores = [p for p in psutil.Process(worker.pid).children(recursive=True) if p.name() == "pg_restore"]
    os.kill(worker.pid, signal.SIGKILL)
    worker.wait(timeout=30)
    wait_for(
        lambda: not any(p.is_running() and p.status() != psutil.STATUS_ZOMBIE for p in restores),
        timeout=120,
        what="the orphaned pg_restore to end",
    )
    assert left in _scratch_databases()  # what the kill leaves behind

    settings.BACKUP_STALE_AFTER = timedelta(seconds=0)  # the decoded artifact is older than the kill
    reap_stale_runs()

    assert left not in _scratch_databases()
    in_memory = memory_folder(1)  # the killed drill's decoded artifact is removed too
    assert not list(in_memory.glob("*.pgdump"))
    in_memory.rmdir()


def test_the_reaper_leaves_a_live_drills_database_alone():
    base = connection.settings_dict
    with scratch_database(base, 0) as scratch:
        with psycopg.connect(current_db_url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{scratch["NAME"]}"')
        assert scratch["NAME"] not in scratch_databases_reap()
        assert scratch["NAME"] in _scratch_databases()
    assert scratch["NAME"] not in _scratch_databases()  # the drill drops its own at the end
