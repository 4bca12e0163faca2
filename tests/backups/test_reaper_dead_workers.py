"""A run whose worker process on this host is gone is failed at once, not after BACKUP_STALE_AFTER; a pid reused by
a younger process is not mistaken for the worker, and another host's run is left to its heartbeat.

The processes are real: `manage.py backup` SIGKILLed mid-dump (nothing can be caught), and `sleep` processes whose
pids stand in a run's row.
"""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
from datetime import timedelta

import psycopg
import pytest
from django.utils import timezone

from backups.models import BackupRun
from backups.services.reaper import backup_runs_reap_dead_workers, backup_runs_reap_stale
from tests.backups.conftest import current_db_url, files_under, make_run
from tests.conftest import ROOT, pg_dumps_running, test_database_env, wait_for

pytestmark = pytest.mark.django_db(transaction=True)


def running_run(pid: int, *, host: str | None = None, started_ago: timedelta = timedelta(minutes=1)) -> BackupRun:
    started = timezone.now() - started_ago
    return make_run(status=BackupRun.Status.RUNNING, started_at=started, heartbeat_at=timezone.now(),
                    worker_host=host or socket.gethostname(), worker_pid=pid, current_artifact="database:default")


def test_a_run_whose_process_exited_is_failed_at_once_with_its_source(backup_dir):
    gone = subprocess.Popen(["true"])
    gone.wait()
    run = running_run(gone.pid)

    assert backup_runs_reap_stale() == []  # its heartbeat is fresh: the heartbeat alone would wait 10 minutes
    assert [r.pk for r in backup_runs_reap_dead_workers()] == [run.pk]

    run.refresh_from_db()
    assert run.status == BackupRun.Status.FAILED
    assert run.error.startswith(f"worker lost: process {gone.pid} on {socket.gethostname()} is gone")


def test_a_reused_pid_is_not_taken_for_the_worker(backup_dir):
    younger = subprocess.Popen(["sleep", "60"])  # alive, but started after the run did: not its worker
    try:
        run = running_run(younger.pid, started_ago=timedelta(minutes=5))
        assert [r.pk for r in backup_runs_reap_dead_workers()] == [run.pk]
    finally:
        younger.kill()
        younger.wait()


@pytest.mark.parametrize("case", ["live worker", "another host"])
def test_a_live_worker_and_another_hosts_run_are_left_alone(backup_dir, case):
    older = subprocess.Popen(["sleep", "60"])  # started before the run: the worker itself, still working
    gone = subprocess.Popen(["true"])
    gone.wait()
    try:
        if case == "live worker":
            run = running_run(older.pid, started_ago=timedelta(seconds=-5))
        else:
            run = running_run(gone.pid, host="another-host")  # that pid means nothing here

        assert backup_runs_reap_dead_workers() == []

        run.refresh_from_db()
        assert run.status == BackupRun.Status.RUNNING
    finally:
        older.kill()
        older.wait()


@pytest.mark.faults
def test_a_sigkilled_cli_backup_does_not_block_the_next_one(backup_dir, django_db_blocker):
    env = test_database_env(BACKUP_DIR=str(backup_dir), VAR_DIR=str(backup_dir.parent / "var"), BACKUP_FILES="",
                            BACKUP_DOCKER_VOLUMES="", BACKUP_PROGRESS_EVERY="200ms")
    with django_db_blocker.unblock(), psycopg.connect(current_db_url()) as locker:
        locker.execute("LOCK TABLE auth_group IN ACCESS EXCLUSIVE MODE")  # pg_dump waits here: mid-dump for sure
        cli = subprocess.Popen([sys.executable, "manage.py", "backup"], cwd=ROOT, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for(lambda: pg_dumps_running(cli.pid), timeout=60, interval=0.05, what="pg_dump to start")
        wait_for(lambda: any(n.endswith(".partial") for n in files_under(backup_dir)), timeout=30,
                 what="the partial dump")
        cli.send_signal(signal.SIGKILL)
        cli.wait(timeout=30)
        locker.rollback()
    killed = BackupRun.objects.get()
    assert killed.status == BackupRun.Status.RUNNING  # nothing could be written: SIGKILL cannot be caught

    result = subprocess.run([sys.executable, "manage.py", "backup"], cwd=ROOT, env=env, capture_output=True,
                            text=True, timeout=300)

    assert result.returncode == 0, result.stderr[-3000:]
    killed.refresh_from_db()
    assert killed.status == BackupRun.Status.FAILED
    assert killed.error.startswith(f"worker lost: process {cli.pid} on {socket.gethostname()} is gone")
    assert [n for n in files_under(backup_dir) if n.startswith(killed.storage_prefix)] == []
