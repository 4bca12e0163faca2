"""The database checks (database, backups, celery) and the other hosts' reports are read in one statement on one
database-pool thread, and the Redis checks of one server in one pool job (issue 20): each check still has its own
outcome, a part that fails is that check's failure with its own reason, and a shared read that hangs is "no answer"
for each of its checks within the deadline, never a false green."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import psycopg
import pytest
from django.db import connection, connections
from django.utils import timezone

from backups.models import BackupRun
from monitoring.checks.base import HealthCheck
from monitoring.checks.celery import HEARTBEAT_TICK, monitored_queues
from monitoring.checks.database import DatabaseCheck
from monitoring.models import BeatTick, HostReport, Status, WorkerHeartbeat
from monitoring.pool import Job, run_jobs
from monitoring.runner import health_report_collect, run_checks

pytestmark = pytest.mark.django_db(transaction=True)

SHARED = ["database", "backups", "celery"]


@pytest.fixture(autouse=True)
def only_shared_checks(settings):
    settings.MONITOR_DISABLED_CHECKS = ["docker", "migrations", "wal_archive", "disk", "memory", "cpu"]


def workers_alive() -> None:
    for queue in monitored_queues():
        WorkerHeartbeat.objects.update_or_create(
            hostname="worker-1", queue=queue, defaults={"last_seen": timezone.now()}
        )
    BeatTick.objects.update_or_create(name=HEARTBEAT_TICK, defaults={"last_tick": timezone.now()})


def by_name(report) -> dict:
    return {result.label: result for result in report.results}


def admin_connection() -> psycopg.Connection:
    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    params.pop("prepare_threshold", None)
    return psycopg.connect(**params, autocommit=True)


def test_every_shared_check_keeps_its_own_outcome_and_the_other_hosts_reports_come_along():
    workers_alive()
    HostReport.objects.create(
        hostname="worker-1",
        reported_at=timezone.now(),
        results=[{"name": "disk", "status": "warning", "message": "/ 91% used", "duration_ms": 1.5, "values": {}}],
    )
    HostReport.objects.create(hostname="worker-2", reported_at=timezone.now() - timedelta(hours=1), results=[])

    found = by_name(health_report_collect())

    assert found["database"].status == Status.OK
    assert found["database"].message.startswith("PostgreSQL answers in ")
    assert found["backups"].status == Status.WARNING
    assert found["backups"].message == "no successful backup yet"
    assert found["celery"].status == Status.OK, found["celery"].message
    assert found["disk@worker-1"].status == Status.WARNING
    assert found["disk@worker-1"].message == "/ 91% used"
    assert found["host@worker-2"].status == Status.WARNING
    assert found["host@worker-2"].message == "no report from this host for 60 min"


def test_the_database_checks_and_host_reports_are_one_statement(settings, backup_dir, run_backup):
    """One round trip per report for all of them, with a complete backup (without one the backups check reads
    one more row to tell "never" from "never complete")."""
    assert run_backup().status == BackupRun.Status.SUCCEEDED
    settings.MONITOR_DB_CONNECTIONS = 1  # one pool thread: the wrapper below sees every statement of the report
    statements: list[str] = []

    def record(execute, sql, params, many, context):
        statements.append(sql)
        return execute(sql, params, many, context)

    def install() -> None:
        connections["default"].execute_wrappers.append(record)

    def remove() -> None:
        connections["default"].execute_wrappers.remove(record)

    run_jobs([Job("install", install, 5, uses_database=True)], deadline=5)
    try:
        workers_alive()
        health_report_collect()  # the database size is read once a minute: not part of every report
        statements.clear()
        report = health_report_collect()
    finally:
        run_jobs([Job("remove", remove, 5, uses_database=True)], deadline=5)

    assert {result.name: result.status for result in report.results if result.name in SHARED} == dict.fromkeys(
        SHARED, Status.OK
    )
    assert len(statements) == 1, statements
    assert "pg_stat_get_activity" in statements[0] and "backups_backuprun" in statements[0]
    assert "monitoring_workerheartbeat" in statements[0] and "monitoring_hostreport" in statements[0]


def test_a_part_that_fails_is_that_checks_failure_with_its_own_reason_and_the_others_still_answer():
    """A table the code expects but the database lacks (a migration not applied, a restore gone wrong) fails the
    whole shared statement in PostgreSQL; each part is then read alone, so only its own check fails."""
    workers_alive()
    table = BackupRun._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(f"ALTER TABLE {table} RENAME TO {table}_away")
    try:
        report = health_report_collect()
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"ALTER TABLE {table}_away RENAME TO {table}")

    found = by_name(report)
    assert found["backups"].status == Status.CRITICAL
    assert f'relation "{table}" does not exist' in found["backups"].message
    assert found["database"].status == Status.OK
    assert found["celery"].status == Status.OK, found["celery"].message
    assert report.status == Status.CRITICAL


def test_a_shared_read_held_by_a_lock_is_no_answer_for_each_of_its_checks_within_the_deadline(settings):
    """A table locked by a migration holds the one statement: every check in it reports that it did not answer
    in time (never its last good answer), and the report comes within the deadline."""
    settings.MONITOR_CHECK_TIMEOUT = timedelta(seconds=0.5)
    settings.HEALTH_DEADLINE = timedelta(seconds=1)
    workers_alive()
    locked, release = threading.Event(), threading.Event()

    def hold_lock() -> None:
        with admin_connection() as other, other.transaction():
            other.execute(f"LOCK TABLE {BackupRun._meta.db_table} IN ACCESS EXCLUSIVE MODE")
            locked.set()
            release.wait(10)

    holder = threading.Thread(target=hold_lock)
    holder.start()
    try:
        assert locked.wait(10)
        started = time.monotonic()
        report = health_report_collect()
        took = time.monotonic() - started
    finally:
        release.set()
        holder.join(10)

    assert took < 1.5
    found = by_name(report)
    for name in SHARED:
        assert found[name].status == Status.CRITICAL, (name, found[name].message)
        assert found[name].message.startswith("no answer within 0.5"), found[name].message
    assert report.status == Status.CRITICAL


def test_broker_and_cache_on_one_server_each_report_under_its_own_name(settings):
    settings.MONITOR_DISABLED_CHECKS = [*settings.MONITOR_DISABLED_CHECKS, "database", "backups", "celery"]
    url = settings.CELERY_BROKER_URL
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": url}}

    found = {
        name: result for name, result in by_name(health_report_collect(hosts=False)).items() if name.startswith("redis")
    }

    assert sorted(found) == ["redis:broker", "redis:cache"]
    for name in found:
        assert found[name].status == Status.OK, found[name].message
        assert found[name].message.startswith("PING ")
    assert {sample.labels["role"] for result in found.values() for sample in result.samples} == {"broker", "cache"}


def test_a_dead_cache_server_fails_only_the_cache_check(settings, dead_redis_url):
    settings.MONITOR_DISABLED_CHECKS = [*settings.MONITOR_DISABLED_CHECKS, "database", "backups", "celery"]
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": dead_redis_url}
    }

    found = by_name(health_report_collect(hosts=False))

    assert found["redis:broker"].status == Status.OK, found["redis:broker"].message
    assert found["redis:cache"].status == Status.CRITICAL
    assert "ConnectionError" in found["redis:cache"].message


class UnbuildableRead(HealthCheck):
    """A database check whose shared read cannot even be built (a setting it reads is broken)."""

    name = "unbuildable"
    uses_database = True

    def sql_alias(self):
        return "default"

    def sql_read(self):
        raise RuntimeError("BACKUP_FILES is not a list")

    def run(self):
        raise AssertionError("not reached: the shared read's failure is the answer")


def test_a_read_that_cannot_be_built_fails_its_own_check_not_the_request():
    results, _jobs = run_checks([DatabaseCheck(), UnbuildableRead()], deadline=3)

    database, unbuildable = results
    assert database.status == Status.OK
    assert unbuildable.status == Status.CRITICAL
    assert unbuildable.message == "RuntimeError: BACKUP_FILES is not a list"
