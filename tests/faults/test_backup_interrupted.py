"""`manage.py backup` and the backups worker interrupted mid-dump (SIGINT, SIGTERM) or failing outside a source: the
run is failed with its files removed before the process exits, and the next backup is accepted at once.

pg_dump is held mid-dump deterministically: the test holds an ACCESS EXCLUSIVE lock on a table, so pg_dump (which
takes ACCESS SHARE on every table it dumps) waits with its output file already open in storage.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator

import psutil
import psycopg
import pytest

from backups.models import BackupRun
from tests.backups.conftest import current_db_url, files_under
from tests.conftest import ROOT, pg_dumps_running, test_database_env, wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.faults]


@pytest.fixture
def table_locked(django_db_blocker) -> Iterator[Callable[[], None]]:
    """An ACCESS EXCLUSIVE lock on a table of the test database (pg_dump waits on it); yields its release."""
    with django_db_blocker.unblock(), psycopg.connect(current_db_url()) as conn:
        conn.execute("LOCK TABLE auth_group IN ACCESS EXCLUSIVE MODE")
        yield conn.rollback
        conn.rollback()


def cli_env(backup_dir, **extra: str) -> dict[str, str]:
    return test_database_env(
        BACKUP_DIR=str(backup_dir), VAR_DIR=str(backup_dir.parent / "var"), BACKUP_FILES="", BACKUP_DOCKER_VOLUMES="",
        BACKUP_PROGRESS_EVERY="200ms", **extra,
    )


def start_cli(backup_dir, *args: str, **extra: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "manage.py", "backup", *args], cwd=ROOT, env=cli_env(backup_dir, **extra),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def wait_mid_dump(process: subprocess.Popen, backup_dir) -> BackupRun:
    wait_for(lambda: pg_dumps_running(process.pid), timeout=60, interval=0.05, what="pg_dump to start")
    wait_for(lambda: any(n.endswith(".partial") for n in files_under(backup_dir)), timeout=30,
             what="the dump's partial file")
    return BackupRun.objects.get(status=BackupRun.Status.RUNNING)


def run_cli(backup_dir, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "manage.py", "backup", *args], cwd=ROOT, env=cli_env(backup_dir),
                          capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize(("signum", "exit_code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_mid_dump_fails_the_run_removes_its_files_and_the_next_backup_is_accepted_at_once(
    backup_dir, table_locked, signum, exit_code
):
    process = start_cli(backup_dir)
    run = wait_mid_dump(process, backup_dir)
    dumps = pg_dumps_running(process.pid)

    process.send_signal(signum)
    _, stderr = process.communicate(timeout=60)

    assert process.returncode == exit_code, stderr
    name = signal.Signals(signum).name
    assert f"Backup #{run.pk} was interrupted by {name}" in stderr
    run.refresh_from_db()
    assert run.status == BackupRun.Status.FAILED
    assert run.error == f"database:default: interrupted by {name}"
    assert run.finished_at is not None
    assert files_under(backup_dir) == []  # the partial dump is gone
    assert not run.artifacts.exists()
    assert not any(p.is_running() and p.status() != psutil.STATUS_ZOMBIE for p in dumps)  # pg_dump was ended

    # The next backup is accepted at once, not after BACKUP_STALE_AFTER.
    table_locked()
    result = run_cli(backup_dir, "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["status"] == BackupRun.Status.SUCCEEDED


def test_an_exception_outside_any_source_fails_the_run_and_the_next_backup_is_accepted(backup_dir):
    # A storage the backup cannot even open (an option S3Storage does not know): an exception raised after the claim.
    broken = start_cli(
        backup_dir,
        BACKUP_STORAGE_BACKEND="storages.backends.s3.S3Storage",
        BACKUP_STORAGE_OPTIONS=json.dumps({"bucket_name": "x", "no_such_option": 1}),
    )
    _, stderr = broken.communicate(timeout=120)

    assert broken.returncode == 1
    run = BackupRun.objects.get()
    assert run.status == BackupRun.Status.FAILED
    assert "no_such_option" in run.error and "no_such_option" in stderr
    assert "Traceback" not in stderr, stderr

    result = run_cli(backup_dir, "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["status"] == BackupRun.Status.SUCCEEDED


def test_sigterm_to_the_backups_worker_as_systemd_sends_it_fails_the_run_before_the_worker_exits(
    backup_dir, table_locked, django_db_blocker
):
    """The production worker (prefork, one child) stopped as systemd stops a service: SIGTERM to every process."""
    from opsportal.celery import app

    with django_db_blocker.unblock():
        app.control.purge()
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "opsportal", "worker", "-Q", "backups", "--concurrency", "1",
         "--loglevel", "INFO", "--without-mingle", "--without-gossip", "-n", "interrupted@%h"],
        cwd=ROOT, env=cli_env(backup_dir), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True,
    )
    try:
        from backups.services.backup import backup_run_enqueue

        run = backup_run_enqueue(trigger=BackupRun.Trigger.API)
        wait_for(lambda: pg_dumps_running(worker.pid), timeout=90, interval=0.05, what="the worker's pg_dump")
        wait_for(lambda: any(n.endswith(".partial") for n in files_under(backup_dir)), timeout=30,
                 what="the dump's partial file")

        # KillMode=control-group: systemd signals every process of the unit's cgroup, whatever its process group
        # (the pool processes have groups of their own), so: the main process and the pool child.
        tree = psutil.Process(worker.pid)
        for process in [tree, *tree.children(recursive=True)]:
            with contextlib.suppress(psutil.NoSuchProcess):
                process.send_signal(signal.SIGTERM)
        output, _ = worker.communicate(timeout=90)
    finally:
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.communicate(timeout=30)

    run.refresh_from_db()
    assert run.status == BackupRun.Status.FAILED, output[-3000:]
    assert run.error == "database:default: interrupted by SIGTERM"
    assert files_under(backup_dir) == []
    assert not run.artifacts.exists()
