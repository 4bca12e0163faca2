"""Each built-in check against the real services of this machine, healthy and broken.

Checks run in their own threads with their own database connections, so tests whose rows a check must read
commit them (transaction=True).
"""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from monitoring import registry
from monitoring.models import BeatTick, Status, WorkerHeartbeat
from monitoring.runner import health_report_collect


def run_one(name: str):
    report = health_report_collect(names=[name], hosts=False)
    matching = [result for result in report.results if result.name == name]
    assert matching, f"no result named {name}: {[result.name for result in report.results]}"
    return matching[0]


def test_every_builtin_check_is_registered():
    names = set(registry.check_classes())
    assert {"database", "redis", "celery", "disk", "memory", "cpu", "docker", "migrations", "backups"} <= names


@pytest.mark.django_db(transaction=True)
def test_database_reports_latency_connections_and_size():
    result = run_one("database")
    assert result.status == Status.OK
    assert result.values["vendor"] == "postgresql"
    assert 0 < result.values["connections"] <= result.values["max_connections"]
    assert result.values["size_bytes"] > 1_000_000
    assert {sample.name for sample in result.samples} >= {"database_latency_seconds", "database_size_bytes"}


@pytest.mark.django_db
def test_redis_broker_reports_ping_memory_and_clients():
    result = run_one("redis:broker")
    assert result.status == Status.OK, result.message
    assert result.values["used_memory_bytes"] > 0
    assert result.values["connected_clients"] >= 1
    assert "@" not in result.values["server"]


@pytest.mark.faults
@pytest.mark.django_db
def test_redis_on_a_closed_port_is_critical_quickly(settings, dead_redis_url):
    settings.CELERY_BROKER_URL = dead_redis_url
    started = time.monotonic()
    result = run_one("redis:broker")
    assert result.status == Status.CRITICAL
    assert "Connection" in result.message
    assert time.monotonic() - started < settings.HEALTH_DEADLINE.total_seconds()


@pytest.mark.django_db
def test_cache_redis_is_checked_when_the_cache_is_redis(settings):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                                   "LOCATION": "redis://127.0.0.1:6379/13"}}
    assert run_one("redis:cache").status == Status.OK


@pytest.mark.django_db
def test_disk_uses_thresholds_per_path(settings, tmp_path):
    assert run_one("disk").status == Status.OK
    settings.MONITOR_DISK_WARNING = 0.0
    warned = run_one("disk")
    assert warned.status == Status.WARNING
    assert set(warned.values) == {"/", str(tmp_path)}
    settings.MONITOR_DISK_CRITICAL = 0.0
    assert run_one("disk").status == Status.CRITICAL


@pytest.mark.django_db
def test_disk_measures_a_backup_dir_not_created_yet_on_its_parent_filesystem(settings, tmp_path):
    settings.MONITOR_DISK_PATHS = [str(tmp_path / "not" / "yet")]
    result = run_one("disk")
    assert result.status == Status.OK
    assert result.values[str(tmp_path / "not" / "yet")]["total_bytes"] > 0


@pytest.mark.django_db
def test_memory_and_cpu_follow_their_thresholds(settings):
    assert run_one("memory").status == Status.OK
    settings.MONITOR_MEMORY_WARNING = 0.0
    assert run_one("memory").status == Status.WARNING
    cpu = run_one("cpu")
    assert cpu.values["cores"] >= 1 and "load5" in cpu.values
    settings.MONITOR_LOAD_WARNING = 0.0
    settings.MONITOR_LOAD_CRITICAL = 0.0
    assert run_one("cpu").status == Status.CRITICAL


@pytest.mark.django_db
def test_host_checks_carry_this_hosts_name():
    report = health_report_collect(names=["disk", "memory", "cpu"], hosts=False)
    assert {result.label for result in report.results} == {"disk@web-test", "memory@web-test", "cpu@web-test"}
    disk_samples = [sample for sample in report.samples() if sample.name == "disk_used_percent"]
    assert {sample.labels["host"] for sample in disk_samples} == {"web-test"}


@pytest.mark.django_db
def test_migrations_are_all_applied_in_the_test_database():
    result = run_one("migrations")
    assert result.status == Status.OK
    assert result.values["unapplied"] == []


@pytest.mark.django_db
def test_backups_without_any_backup_is_a_warning_not_an_error():
    result = run_one("backups")
    assert result.status == Status.WARNING
    assert result.message == "no successful backup yet"


def _succeeded_backup(age, **fields):
    """A complete backup in the catalog: one artifact per configured source (the RPO counts only those)."""
    from backups.models import BackupArtifact, BackupRun
    from backups.sources import selected

    finished = timezone.now() - age
    run = BackupRun.objects.create(status="succeeded", trigger="scheduled", started_at=finished, finished_at=finished,
                                   total_bytes=123456, **fields)
    for source in selected(None):
        BackupArtifact.objects.create(run=run, kind=source.kind, name=source.name, path=f"x/{source.kind}",
                                      sha256="0" * 64, format="test")
    return run


@pytest.mark.django_db(transaction=True)  # checks run on the runner's threads: they must see committed rows
@pytest.mark.parametrize(
    ("age_in_rpos", "status"), [(0.5, Status.OK), (1.5, Status.WARNING), (2.5, Status.CRITICAL)]
)
def test_backup_age_is_held_against_the_rpo(settings, age_in_rpos, status):
    _succeeded_backup(settings.BACKUP_RPO * age_in_rpos)
    result = run_one("backups")
    assert result.status == status
    samples = {sample.name: sample.value for sample in result.samples}
    assert samples["backup_last_success_age_seconds"] == pytest.approx(
        (settings.BACKUP_RPO * age_in_rpos).total_seconds(), abs=5
    )
    assert samples["backup_last_size_bytes"] == 123456


@pytest.mark.django_db(transaction=True)
def test_a_failed_restore_drill_makes_a_fresh_backup_a_warning(settings):
    _succeeded_backup(settings.BACKUP_RPO / 4, verification="failed", verified_at=timezone.now())
    result = run_one("backups")
    assert result.status == Status.WARNING
    assert "restore drill failed" in result.message
    assert result.values["last_drill"]["outcome"] == "failed"


@pytest.mark.django_db
def test_celery_without_workers_or_beat_is_critical_naming_the_queues():
    result = run_one("celery")
    assert result.status == Status.CRITICAL
    assert "backups" in result.message and "monitoring" in result.message


@pytest.mark.django_db(transaction=True)
def test_celery_with_fresh_heartbeats_and_beat_is_ok_and_counts_queued_messages(settings):
    now = timezone.now()
    for queue in ("backups", "monitoring", "probes"):
        WorkerHeartbeat.objects.create(hostname="w1@host-a", queue=queue, last_seen=now)
    WorkerHeartbeat.objects.create(hostname="old@host-b", queue="monitoring", last_seen=now - timedelta(hours=1))
    BeatTick.objects.create(name="monitoring: worker heartbeat", last_tick=now)
    from opsportal.celery import app

    with app.connection_for_write() as connection:
        connection.default_channel.client.delete("backups")
        for _ in range(3):
            app.send_task("backups.tasks.nothing", queue="backups", connection=connection)
    try:
        result = run_one("celery")
        assert result.status == Status.OK, result.message
        assert result.values["workers"] == {queue: ["w1@host-a"] for queue in ("backups", "monitoring", "probes")}
        assert result.values["queue_lengths"]["backups"] == 3
    finally:
        app.control.purge()


@pytest.mark.django_db(transaction=True)
def test_celery_with_a_silent_beat_is_critical(settings):
    now = timezone.now()
    for queue in ("backups", "monitoring", "probes"):
        WorkerHeartbeat.objects.create(hostname="w1@host-a", queue=queue, last_seen=now)
    BeatTick.objects.create(name="monitoring: worker heartbeat", last_tick=now - timedelta(minutes=10))
    result = run_one("celery")
    assert result.status == Status.CRITICAL
    assert "beat" in result.message
