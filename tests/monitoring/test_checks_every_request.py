"""With HEALTH_CACHE_TTL=0 every request runs every check: a failure that appears between two requests is in the
second answer. One test per check whose reads were merged into fewer round trips (backups: one query; celery: one
query for heartbeats and beat; Redis: PING and INFO in one pipeline), each against the real dependency."""

from __future__ import annotations

import subprocess
from datetime import timedelta

import pytest
from django.utils import timezone

from backups.models import BackupRun
from monitoring.checks.celery import HEARTBEAT_TICK, monitored_queues
from monitoring.models import BeatTick, WorkerHeartbeat
from tests.conftest import free_port, wait_for
from tests.monitoring.conftest import HEALTH_TOKEN

pytestmark = pytest.mark.django_db(transaction=True)

BEARER = {"HTTP_AUTHORIZATION": f"Bearer {HEALTH_TOKEN}"}


@pytest.fixture(autouse=True)
def every_request(settings):
    settings.HEALTH_CACHE_TTL = timedelta(0)


def checks_of(client) -> tuple[int, dict[str, dict]]:
    response = client.get("/api/system/health", **BEARER)
    return response.status_code, {check["name"]: check for check in response.json()["checks"]}


def workers_alive(*, seconds_ago: float) -> None:
    seen = timezone.now() - timedelta(seconds=seconds_ago)
    for queue in monitored_queues():
        WorkerHeartbeat.objects.update_or_create(hostname="worker-1", queue=queue, defaults={"last_seen": seen})
    BeatTick.objects.update_or_create(name=HEARTBEAT_TICK, defaults={"last_tick": timezone.now()})


def answers(port: int) -> bool:
    import redis

    try:
        return bool(redis.Redis(port=port, socket_connect_timeout=1).ping())
    except redis.ConnectionError:
        return False


def test_a_backup_going_stale_is_critical_on_the_next_request(client, settings, backup_dir, run_backup):
    settings.MONITOR_DISABLED_CHECKS = ["celery", "docker"]
    settings.BACKUP_RPO = timedelta(hours=26)
    run = run_backup()
    assert run.status == BackupRun.Status.SUCCEEDED, run.error

    code, checks = checks_of(client)
    assert checks["backups"]["status"] == "ok"
    assert checks["backups"]["values"]["run"] == str(run.pk)
    assert code == 200

    BackupRun.objects.filter(pk=run.pk).update(finished_at=timezone.now() - timedelta(hours=60))
    code, checks = checks_of(client)
    assert checks["backups"]["status"] == "critical"
    assert checks["backups"]["message"] == "last successful backup 60.0 h ago, more than twice the RPO"
    assert code == 503


def test_a_failed_drill_is_reported_with_the_backup_in_the_same_answer(client, settings, backup_dir, run_backup):
    settings.MONITOR_DISABLED_CHECKS = ["celery", "docker"]
    run = run_backup()
    verified_at = timezone.now() - timedelta(minutes=5)
    BackupRun.objects.filter(pk=run.pk).update(verified_at=verified_at, verification=BackupRun.Verification.FAILED,
                                               drill_rto_seconds=12.5)

    _code, checks = checks_of(client)

    assert checks["backups"]["status"] == "warning"
    assert checks["backups"]["message"].endswith("; the last verification or restore drill failed")
    assert checks["backups"]["values"]["last_drill"] == {
        "run": str(run.pk), "at": verified_at.isoformat(), "outcome": BackupRun.Verification.FAILED,
        "rto_seconds": 12.5}


def test_a_partial_backup_never_satisfies_the_check(client, settings, backup_dir, run_backup):
    settings.MONITOR_DISABLED_CHECKS = ["celery", "docker"]
    run_backup(only=["database"])

    _code, checks = checks_of(client)

    assert checks["backups"]["status"] == "warning"
    assert checks["backups"]["message"] == "no complete backup of every configured source yet"


def test_a_stopped_worker_is_critical_on_the_next_request(client, settings):
    settings.MONITOR_DISABLED_CHECKS = ["docker", "backups"]
    workers_alive(seconds_ago=1)
    code, checks = checks_of(client)
    assert checks["celery"]["status"] == "ok", checks["celery"]
    assert code == 200

    # A stopped worker stops its heartbeat: once it is older than MONITOR_WORKER_STALE no worker serves the queues.
    workers_alive(seconds_ago=settings.MONITOR_WORKER_STALE.total_seconds() + 5)
    code, checks = checks_of(client)
    assert checks["celery"]["status"] == "critical"
    assert "no worker consumes the backups queue" in checks["celery"]["message"]
    assert code == 503


def test_a_redis_that_dies_is_critical_on_the_next_request(client, settings, tmp_path):
    settings.MONITOR_DISABLED_CHECKS = ["celery", "docker", "backups"]
    port = free_port()
    server = subprocess.Popen(["redis-server", "--port", str(port), "--save", "", "--appendonly", "no",
                               "--dir", str(tmp_path)], stdout=subprocess.DEVNULL)
    try:
        wait_for(lambda: answers(port), timeout=10, what="redis-server")
        settings.CELERY_BROKER_URL = f"redis://127.0.0.1:{port}/0"
        code, checks = checks_of(client)
        assert checks["redis:broker"]["status"] == "ok", checks["redis:broker"]
        assert checks["redis:broker"]["values"]["server"] == f"127.0.0.1:{port}/0"
        assert code == 200
    finally:
        server.terminate()
        server.wait(timeout=10)

    code, checks = checks_of(client)
    assert checks["redis:broker"]["status"] == "critical"
    assert "ConnectionError" in checks["redis:broker"]["message"]
    assert code == 503


def test_memory_and_cpu_run_in_the_request_and_still_fail_it(client, settings):
    # Both read /proc in the request's own thread (inline); a threshold crossed shows on the next request.
    settings.MONITOR_DISABLED_CHECKS = ["celery", "docker", "backups"]
    settings.MONITOR_MEMORY_WARNING, settings.MONITOR_MEMORY_CRITICAL = 99.9, 100.0
    settings.MONITOR_LOAD_WARNING, settings.MONITOR_LOAD_CRITICAL = 1000.0, 1000.0
    code, checks = checks_of(client)
    assert checks["memory"]["status"] == "ok"
    assert checks["cpu"]["status"] == "ok"
    assert code == 200

    settings.MONITOR_MEMORY_WARNING, settings.MONITOR_MEMORY_CRITICAL = 0.0, 0.0
    settings.MONITOR_LOAD_WARNING, settings.MONITOR_LOAD_CRITICAL = 0.0, 0.0
    code, checks = checks_of(client)
    assert checks["memory"]["status"] == "critical"
    assert checks["cpu"]["status"] == "critical"
    assert checks["memory"]["host"] == checks["cpu"]["host"] == "web-test"
    assert code == 503


def test_an_inline_check_that_raises_is_a_critical_result(client, settings, monkeypatch):
    from monitoring.checks.memory import MemoryCheck

    settings.MONITOR_DISABLED_CHECKS = ["celery", "docker", "backups"]

    def broken(self):
        raise OSError("cannot read /proc/meminfo")

    monkeypatch.setattr(MemoryCheck, "run", broken)
    code, checks = checks_of(client)
    assert checks["memory"]["status"] == "critical"
    assert checks["memory"]["message"] == "OSError: cannot read /proc/meminfo"
    assert code == 503


MOUNTS_CHANGE = """
import os, subprocess, sys, tempfile
import django

django.setup()
from monitoring.checks.disk import LOCAL_FILESYSTEMS, LocalMounts

# ramfs stands in for a network filesystem (mounting nfs needs a server): the same kernel event either way.
mounts = LocalMounts(accepted=LOCAL_FILESYSTEMS - {"ramfs"})
folder = tempfile.mkdtemp()
seen = [mounts.all_local()]
subprocess.run(["mount", "-t", "ramfs", "none", folder], check=True)
seen += [mounts.all_local(), mounts.all_local()]
subprocess.run(["umount", folder], check=True)
seen.append(mounts.all_local())
print(seen)
"""


def test_disk_leaves_the_request_thread_as_soon_as_a_filesystem_that_may_hang_is_mounted():
    """The disk check runs in the request's thread only while every mounted filesystem is local; the kernel's
    mount-table event sends it back to a pool thread before its next run. In a private mount namespace."""
    import os
    import sys

    from tests.monitoring.conftest import ROOT

    done = subprocess.run(["unshare", "--mount", "--propagation", "private", sys.executable, "-c", MOUNTS_CHANGE],
                          capture_output=True, text=True, timeout=60, cwd=ROOT,
                          env={**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings"})
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "[True, False, False, True]"


def test_a_network_filesystem_in_mountinfo_is_not_local():
    from monitoring.checks.disk import LOCAL_FILESYSTEMS, mount_types

    mountinfo = (b"22 1 0:21 / / rw,relatime - overlay overlay rw,lowerdir=/a\\040b\n"
                 b"40 22 0:35 / /backups rw,relatime shared:5 - nfs4 srv:/export rw,vers=4.2\n")
    assert mount_types(mountinfo) == {"overlay", "nfs4"}
    assert not mount_types(mountinfo) <= LOCAL_FILESYSTEMS
