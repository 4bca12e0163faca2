"""The runner: concurrent checks, per-check timeouts, an overall deadline, no leaked database connections."""

from __future__ import annotations

import time

import pytest
from django.db import connection, connections

from monitoring.checks.base import HealthCheck
from monitoring.models import Status
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
