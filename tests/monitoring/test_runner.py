"""The runner: concurrent checks, per-check timeouts, an overall deadline, no leaked database connections."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connection, connections

from monitoring.checks.base import HealthCheck
from monitoring.models import Status
from monitoring.pool import Job, run_jobs
from monitoring.runner import HealthReport, health_report_collect, run_checks


class SleepyCheck(HealthCheck):
    def __init__(self, name: str, seconds: float, timeout: float, *, critical: bool = True) -> None:
        self.name = name
        self.seconds = seconds
        self.timeout_override = timeout
        self.critical = critical

    def run(self):
        time.sleep(self.seconds)
        return self.ok("slept")


class DatabaseSleepCheck(HealthCheck):
    name = "db-sleep"
    timeout_override = 0.2

    def run(self):
        with connections["default"].cursor() as cursor:
            cursor.execute("SELECT pg_sleep(1)")
        return self.ok("done")


class BrokenCheck(HealthCheck):
    name = "broken"

    def run(self):
        raise RuntimeError("the thing is on fire")


class FailingOptionalCheck(HealthCheck):
    name = "optional"
    critical = False

    def run(self):
        return self.failure("down, but optional")


class CountingCheck(HealthCheck):
    name = "counting"
    cache_for = 60.0
    runs = 0

    def run(self):
        CountingCheck.runs += 1
        return self.ok("counted")


def test_checks_run_concurrently():
    checks = [SleepyCheck(f"sleep{index}", 0.3, 2) for index in range(5)]
    started = time.monotonic()
    results, _ = run_checks(checks, deadline=3)
    assert time.monotonic() - started < 1.0  # five 0.3 s checks, not 1.5 s in a row
    assert [result.status for result in results] == [Status.OK] * 5


def test_a_check_past_its_timeout_fails_without_waiting_for_it():
    started = time.monotonic()
    results, _ = run_checks([SleepyCheck("slow", 5, 0.3), SleepyCheck("fast", 0, 2)], deadline=3)
    assert time.monotonic() - started < 1.0
    slow, fast = results
    assert slow.status == Status.CRITICAL and "no answer within 0.3" in slow.message
    assert fast.status == Status.OK


def test_the_overall_deadline_bounds_every_check():
    started = time.monotonic()
    results, _ = run_checks([SleepyCheck("a", 5, 4), SleepyCheck("b", 5, 4)], deadline=0.5)
    assert time.monotonic() - started < 1.0
    assert all(result.status == Status.CRITICAL for result in results)


def test_an_exception_is_a_critical_result_with_its_message():
    [result], _ = run_checks([BrokenCheck()], deadline=1)
    assert result.status == Status.CRITICAL
    assert result.message == "RuntimeError: the thing is on fire"


def test_a_failing_non_critical_check_only_warns_overall():
    results, _ = run_checks([FailingOptionalCheck(), SleepyCheck("fine", 0, 1)], deadline=1)
    report = HealthReport(results=results, duration=0, generated_at=None)
    assert results[0].status == Status.CRITICAL
    assert report.status == Status.WARNING


def test_a_cacheable_check_runs_once_per_window():
    CountingCheck.runs = 0
    run_checks([CountingCheck()], deadline=1)
    run_checks([CountingCheck()], deadline=1)
    assert CountingCheck.runs == 1


def _connections_to_test_database() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()")
        return cursor.fetchone()[0]


def _settles_back_to(count: int) -> bool:
    # A closed connection's server process leaves pg_stat_activity a few milliseconds after the client hangs up.
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        if _connections_to_test_database() == count:
            return True
        time.sleep(0.05)
    return False


@pytest.mark.django_db(transaction=True)
def test_repeated_health_runs_leave_no_database_connection_open():
    before = _connections_to_test_database()
    for _ in range(15):
        health_report_collect()
    assert _settles_back_to(before)


@pytest.mark.django_db(transaction=True)
def test_an_abandoned_check_closes_its_connection_when_it_finally_returns():
    before = _connections_to_test_database()
    started = time.monotonic()
    [result], _ = run_checks([DatabaseSleepCheck()], deadline=3)
    assert time.monotonic() - started < 0.6
    assert result.status == Status.CRITICAL
    assert _settles_back_to(before)


def test_a_forked_child_gets_a_working_pool():
    import os

    run_checks([SleepyCheck("warm", 0, 1)], deadline=1)  # the parent's pool now has an idle thread
    pid = os.fork()
    if pid == 0:  # the child: its copy of the pool must start threads of its own
        try:
            [result], _ = run_checks([SleepyCheck("in-child", 0, 1)], deadline=1)
            os._exit(0 if result.status == Status.OK else 1)
        except BaseException:
            os._exit(2)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0


class DatabaseBusyCheck(HealthCheck):
    """Holds a database connection for `seconds`; records how many such checks were in the database at once."""

    uses_database = True
    in_flight = 0
    peak = 0
    runs = 0
    lock = threading.Lock()

    def __init__(self, name: str, seconds: float, timeout: float = 3.0) -> None:
        self.name = name
        self.seconds = seconds
        self.timeout_override = timeout

    def run(self):
        with DatabaseBusyCheck.lock:
            DatabaseBusyCheck.runs += 1
            DatabaseBusyCheck.in_flight += 1
            DatabaseBusyCheck.peak = max(DatabaseBusyCheck.peak, DatabaseBusyCheck.in_flight)
        try:
            with connections["default"].cursor() as cursor:
                cursor.execute("SELECT pg_sleep(%s)", [self.seconds])
        finally:
            with DatabaseBusyCheck.lock:
                DatabaseBusyCheck.in_flight -= 1
        return self.ok("done")


@pytest.fixture
def busy_checks():
    DatabaseBusyCheck.in_flight = DatabaseBusyCheck.peak = DatabaseBusyCheck.runs = 0
    return DatabaseBusyCheck


@pytest.mark.django_db(transaction=True)
def test_database_checks_share_at_most_monitor_db_connections(settings, busy_checks):
    settings.MONITOR_DB_CONNECTIONS = 2
    results, _ = run_checks([DatabaseBusyCheck(f"db{index}", 0.1) for index in range(8)], deadline=3)
    assert [result.status for result in results] == [Status.OK] * 8  # queued behind each other, all answered
    assert busy_checks.peak == 2


@pytest.mark.django_db(transaction=True)
def test_a_database_check_whose_caller_gave_up_is_never_run(settings, busy_checks):
    settings.MONITOR_DB_CONNECTIONS = 1
    stuck, waiting = run_checks([DatabaseBusyCheck("stuck", 0.6, timeout=0.2),
                                 DatabaseBusyCheck("waiting", 0, timeout=0.2)], deadline=1)[0]
    assert stuck.status == waiting.status == Status.CRITICAL
    assert "no answer within 0.2" in waiting.message
    time.sleep(0.8)  # the stuck check returns; the one nobody waits for any more must not run after it
    assert busy_checks.runs == 1


@pytest.mark.django_db(transaction=True)
def test_with_conn_max_age_health_runs_keep_at_most_monitor_db_connections_open(settings, monkeypatch):
    """Production keeps connections for CONN_MAX_AGE (60 s): only the database pool's threads may keep theirs."""
    settings.MONITOR_DB_CONNECTIONS = 2
    monkeypatch.setitem(connection.settings_dict, "CONN_MAX_AGE", 60)
    before = _connections_to_test_database()
    try:
        for _ in range(10):
            health_report_collect(metrics=True)
            run_checks([DatabaseSleepCheck(), *(SleepyCheck(f"s{index}", 0.05, 1) for index in range(8))],
                       deadline=1)
        time.sleep(1)  # the undeclared database check returns from its pg_sleep(1) and closes its connection
        assert _connections_to_test_database() <= before + 2
    finally:
        _close_database_pool_connections(2)
    assert _settles_back_to(before)


def _close_database_pool_connections(threads: int) -> None:
    # One job per database-pool thread (the barrier holds each until all have one), each closing its connections:
    # pytest-django cannot drop the test database while a pool thread keeps a connection for CONN_MAX_AGE.
    barrier = threading.Barrier(threads, timeout=5)

    def close() -> None:
        barrier.wait()
        connections.close_all()

    run_jobs([Job("close", close, 5, uses_database=True) for _ in range(threads)], deadline=5)


STUCK_THEN_EXIT = """
import threading

import django

django.setup()
from monitoring.pool import Job, run_jobs

never = threading.Event()
stuck = Job("stuck", never.wait, 0.2)  # a check in a dependency that never answers
run_jobs([stuck], deadline=0.2)
print("gave up" if not stuck.done.is_set() else "answered")
"""


def test_a_process_whose_check_is_stuck_still_exits_once_it_has_its_report():
    """`manage.py monitor` run by Nagios: a check stuck for ever must not keep the process from exiting."""
    import os
    import subprocess
    import sys

    from tests.monitoring.conftest import ROOT

    done = subprocess.run([sys.executable, "-c", STUCK_THEN_EXIT], cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings"}, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "gave up"
