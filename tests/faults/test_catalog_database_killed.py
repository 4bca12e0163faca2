"""The PostgreSQL that holds the catalog dies mid-dump: the failure cannot be written when it happens.

A portal of its own (manage.py with DATABASE_URL on a cluster of this test's own, `initdb`) backs itself up; the
cluster is stopped with `-m immediate` while pg_dump runs (held on a table lock, so the moment is certain), and
started again. The CLI journals the failure under VAR_DIR and exits 1; the next reader of the journal writes it with
its real cause, at once: the next backup attempt, the reaper tick, or a worker starting. Nobody waits
BACKUP_STALE_AFTER, and "worker lost" never replaces the cause.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from tests.conftest import ROOT, pg_dumps_running, test_database_env, wait_for
from tests.pg_cluster import ThrowawayPostgres

pytestmark = pytest.mark.faults


@pytest.fixture
def catalog_cluster(module_throwaway_postgres) -> ThrowawayPostgres:
    """The cluster that holds the portal's catalog, shared by this module's tests, running when a test starts."""
    if not module_throwaway_postgres.running:  # an earlier test stopped it and failed
        module_throwaway_postgres.start()
    return module_throwaway_postgres


@pytest.fixture
def portal(catalog_cluster, tmp_path, django_db_blocker) -> dict[str, str]:
    """The environment of a portal whose catalog is on the throwaway cluster, with its own VAR_DIR and storage."""
    url = catalog_cluster.create_database(f"portal_{secrets.token_hex(3)}")
    with django_db_blocker.unblock():
        env = test_database_env(
            TEST_DATABASE_URL=url, VAR_DIR=str(tmp_path / "var"), BACKUP_DIR=str(tmp_path / "backups"),
            BACKUP_FILES="", BACKUP_DOCKER_VOLUMES="", BACKUP_PROGRESS_EVERY="200ms",
        )
    env.pop("PGPASSWORD", None)
    manage(env, "migrate", "-v0")
    return {**env, "CATALOG_URL": url}


def manage(env: dict[str, str], *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    result = subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=timeout)
    assert result.returncode == 0 or args[0] == "backup", result.stderr[-3000:]
    return result


def catalog(env: dict[str, str]) -> list[tuple[int, str, str]]:
    with psycopg.connect(env["CATALOG_URL"]) as conn:
        return conn.execute("SELECT id, status, error FROM backups_backuprun ORDER BY id").fetchall()


def journal(env: dict[str, str]) -> list[str]:
    folder = Path(env["VAR_DIR"]) / "backup-journal"
    return sorted(p.name for p in folder.glob("run-*.json")) if folder.exists() else []


def dump_waits_on_lock(env: dict[str, str]) -> bool:
    with psycopg.connect(env["CATALOG_URL"], autocommit=True) as conn:
        # pg_dump's own session (application_name is the portal's, PGAPPNAME): its LOCK TABLE waits on ours
        return bool(conn.execute("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                                 "AND query LIKE 'LOCK TABLE % IN ACCESS SHARE MODE'").fetchone()[0])


def kill_the_catalog_mid_dump(cluster: ThrowawayPostgres, env: dict[str, str]) -> tuple[int, int, str]:
    """Start `manage.py backup`, stop the cluster while its pg_dump waits on a lock; return (run, exit code, stderr)."""
    locker = psycopg.connect(env["CATALOG_URL"])
    locker.execute("LOCK TABLE auth_group IN ACCESS EXCLUSIVE MODE")
    cli = subprocess.Popen([sys.executable, "manage.py", "backup"], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: pg_dumps_running(cli.pid), timeout=60, interval=0.05, what="pg_dump to start")
        # the moment is certain only once pg_dump waits on the lock: the CLI then only waits for pg_dump's output
        wait_for(lambda: dump_waits_on_lock(env), timeout=60, interval=0.05, what="pg_dump to wait on the lock")
        [(run_id, status, _)] = catalog(env)
        assert status == "running"
        cluster.stop()
        _, stderr = cli.communicate(timeout=120)
    finally:
        if cli.poll() is None:
            cli.kill()
            cli.communicate()
        locker.close()
    return run_id, cli.returncode, stderr


def assert_failed_with_the_real_cause(env: dict[str, str], run_id: int) -> str:
    rows = {row[0]: row for row in catalog(env)}
    _, status, error = rows[run_id]
    assert status == "failed", rows
    assert error.startswith("database:default: pg_dump exited with"), error
    assert "worker lost" not in error
    assert journal(env) == []
    return error


def test_the_next_backup_attempt_writes_the_journalled_failure_and_is_accepted_at_once(catalog_cluster, portal):
    run_id, code, stderr = kill_the_catalog_mid_dump(catalog_cluster, portal)

    assert code == 1
    assert f"Backup #{run_id} failed: database:default: pg_dump exited with" in stderr, stderr[-4000:]
    [name] = journal(portal)
    assert name.startswith(f"run-{run_id}-")
    folder = Path(portal["VAR_DIR"]) / "backup-journal"
    assert (folder.stat().st_mode & 0o777, (folder / name).stat().st_mode & 0o777) == (0o700, 0o600)
    catalog_cluster.start()
    assert catalog(portal)[0][1] == "running"  # nothing could write it meanwhile

    result = manage(portal, "backup", "--json")

    assert result.returncode == 0, result.stderr[-3000:]
    assert_failed_with_the_real_cause(portal, run_id)
    assert [status for _, status, _ in catalog(portal)] == ["failed", "succeeded"]


def test_the_reaper_writes_the_journalled_cause_rather_than_worker_lost(catalog_cluster, portal):
    run_id, code, _ = kill_the_catalog_mid_dump(catalog_cluster, portal)
    assert code == 1 and journal(portal)
    catalog_cluster.start()

    manage(portal, "shell", "-c", "from backups.tasks import reap_stale_runs; reap_stale_runs()")

    assert_failed_with_the_real_cause(portal, run_id)


def test_a_starting_worker_writes_the_journalled_failure(catalog_cluster, portal):
    run_id, code, _ = kill_the_catalog_mid_dump(catalog_cluster, portal)
    assert code == 1 and journal(portal)
    catalog_cluster.start()

    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "opsportal", "worker", "-Q", "backups", "--pool", "solo",
         "--without-mingle", "--without-gossip", "-n", f"journal{os.getpid()}@%h"],
        cwd=ROOT, env=portal, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(lambda: catalog(portal)[0][1] == "failed", timeout=90, what="the worker to replay the journal")
    finally:
        worker.terminate()
        worker.wait(timeout=30)

    assert_failed_with_the_real_cause(portal, run_id)
