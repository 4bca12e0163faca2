"""The PostgreSQL server being backed up dies mid-dump (our own throwaway cluster, stopped with -m immediate)."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import psycopg
import pytest
from django.db import connection, connections

from backups.models import BackupRun
from backups.services.backup import backup_run_create, backup_run_execute
from tests.backups.conftest import files_under
from tests.conftest import pg_dumps_running, wait_for
from tests.pg_cluster import ThrowawayPostgres

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.faults]
ALIAS = "faulttarget"


@pytest.fixture
def doomed_cluster(throwaway_postgres) -> ThrowawayPostgres:
    with psycopg.connect(throwaway_postgres.url, autocommit=True) as conn:
        # About 100 MB: pg_dump streams for a while, so the kill lands mid-dump.
        conn.execute("CREATE TABLE big AS SELECT g AS id, repeat(md5(g::text), 3) AS pad "
                     "FROM generate_series(1, 800000) g")
    return throwaway_postgres


@pytest.fixture
def target_alias(doomed_cluster, settings) -> Iterator[str]:
    """A second database alias pointing at the throwaway cluster, as a project with two databases has."""
    connections.settings[ALIAS] = {**connection.settings_dict, "HOST": "127.0.0.1", "PORT": str(doomed_cluster.port),
                                   "NAME": "postgres", "USER": "postgres", "PASSWORD": ""}
    settings.BACKUP_DATABASES = [ALIAS]
    try:
        yield ALIAS
    finally:
        connections[ALIAS].close()
        del connections.settings[ALIAS]
        if hasattr(connections._connections, ALIAS):
            delattr(connections._connections, ALIAS)


def _pg_dump_running() -> bool:
    return bool(pg_dumps_running())


def test_the_server_dying_mid_dump_fails_the_run_naming_the_cause(backup_dir, doomed_cluster, target_alias):
    run = backup_run_create(trigger=BackupRun.Trigger.CLI)
    finished: list[BackupRun] = []

    def back_up() -> None:
        try:
            finished.append(backup_run_execute(run_id=run.pk))
        finally:
            connection.close()

    worker = threading.Thread(target=back_up)
    worker.start()
    wait_for(_pg_dump_running, timeout=30, interval=0.02, what="pg_dump to start")
    doomed_cluster.stop()
    worker.join(timeout=120)

    (result,) = finished
    assert result.status == BackupRun.Status.FAILED
    assert f"database:{ALIAS}" in result.error  # which source
    assert "pg_dump exited" in result.error or "terminat" in result.error or "connection" in result.error
    assert files_under(backup_dir) == []
    assert not result.artifacts.exists()


def test_an_unreachable_server_fails_before_any_file_is_written(backup_dir, doomed_cluster, target_alias):
    doomed_cluster.stop()
    run = backup_run_create(trigger=BackupRun.Trigger.CLI)
    result = backup_run_execute(run_id=run.pk)
    assert result.status == BackupRun.Status.FAILED
    assert f"database:{ALIAS}" in result.error and str(doomed_cluster.port) in result.error
    assert files_under(backup_dir) == []
