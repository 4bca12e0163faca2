"""Redis (the broker) stopped mid-backup and during snapshot collection: our own redis-server on its own port.

The portal's pages still load, health names the broker, the backup in flight finishes, and jobs queued once Redis
is back are taken by the same worker.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
import time_machine
from django.contrib.auth.models import User
from django.utils import timezone
from kombu import Connection

from backups.models import BackupRun
from backups.services.backup import backup_run_create
from backups.tasks import run_backup
from monitoring.models import CheckResult
from monitoring.services import health_snapshot_take
from tests.backups.conftest import current_db_url, files_under
from tests.conftest import free_port, wait_for
from tests.monitoring.conftest import HEALTH_TOKEN

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.faults]


class OwnRedis:
    def __init__(self, folder: Path) -> None:
        self.port = free_port()
        self.folder = folder
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.folder)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )

        def answering() -> bool:
            with socket.socket() as probe:
                return probe.connect_ex(("127.0.0.1", self.port)) == 0

        wait_for(answering, timeout=15, what="our redis-server to listen")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()  # like a crash: no goodbye to the clients
            self.process.wait(timeout=10)


@pytest.fixture
def own_redis(tmp_path) -> Iterator[OwnRedis]:
    server = OwnRedis(tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def _enqueue(url: str, run: BackupRun) -> None:
    with Connection(url) as conn:
        run_backup.apply_async((run.pk,), connection=conn)


def _login(base: str) -> httpx.Client:
    session = httpx.Client(base_url=base, timeout=20)
    page = session.get("/admin/login/")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    session.post("/admin/login/", data={"csrfmiddlewaretoken": token, "username": "root", "password": "pw",
                                        "next": "/admin/"})
    return session


def test_redis_dies_mid_backup_pages_load_health_names_it_and_jobs_resume(
    own_redis, backup_dir, tmp_path, celery_worker_process, portal_server
):
    User.objects.create_superuser("root", "root@example.com", "pw")
    slow = tmp_path / "slow.env"
    os.mkfifo(slow)
    env = {"TEST_REDIS_URL": own_redis.url, "BACKUP_DIR": str(backup_dir), "BACKUP_FILES": str(slow)}
    worker = celery_worker_process(queues="backups", extra_env=env)
    base = portal_server(TEST_DATABASE_URL=current_db_url(), TEST_REDIS_URL=own_redis.url, BACKUP_DIR=str(backup_dir),
                         MONITOR_DISABLED_CHECKS="celery,docker")
    feeder = os.open(slow, os.O_RDWR | os.O_NONBLOCK)
    try:
        os.write(feeder, b"SECRET=1\n" * 1000)
        first = backup_run_create(trigger=BackupRun.Trigger.API)
        _enqueue(own_redis.url, first)
        wait_for(lambda: any(n.endswith(".partial") for n in files_under(backup_dir)), timeout=60,
                 what="the worker to be mid-backup")

        own_redis.stop()

        session = _login(base)
        for page in ("/admin/", "/admin/backups/backuprun/", f"/admin/backups/backuprun/{first.pk}/change/"):
            assert session.get(page).status_code == 200, page
        health = httpx.get(f"{base}/api/system/health", headers={"Authorization": f"Bearer {HEALTH_TOKEN}"},
                           timeout=20)
        assert health.status_code == 503
        failing = {c["name"]: c["message"] for c in health.json()["checks"] if c["status"] == "critical"}
        assert list(failing) == ["redis:broker"] and f"127.0.0.1:{own_redis.port}" in failing["redis:broker"], failing
    finally:
        os.close(feeder)  # EOF: the backup in flight can finish; it needs the database, not the broker

    wait_for(lambda: BackupRun.objects.get(pk=first.pk).status != BackupRun.Status.RUNNING, timeout=60,
             what="the backup in flight to finish")
    assert BackupRun.objects.get(pk=first.pk).status == BackupRun.Status.SUCCEEDED
    # The backup in flight finished without its broker. (The worker itself may exit right after: see below.)

    own_redis.start()  # same port
    os.unlink(slow)
    slow.write_text("SECRET=2\n")
    second = backup_run_create(trigger=BackupRun.Trigger.API)
    _enqueue(own_redis.url, second)

    def second_done_or_worker_gone() -> bool:
        return worker.poll() is not None or BackupRun.objects.get(pk=second.pk).status == BackupRun.Status.SUCCEEDED

    wait_for(second_done_or_worker_gone, timeout=90,
             what="the worker to take the next backup after Redis returned, or to exit (never alive but deaf)")
    if worker.poll() is not None:
        # When the broker connection breaks as a task finishes, kombu's reconnect can fail ("Unrecoverable error:
        # AttributeError ... 'hostname'" in restore_unacked): the worker then exits non-zero, and its supervisor
        # (systemd Restart=always, a container restart policy: docs/guides/operations.md) starts it again. The
        # message waits in Redis for the new worker.
        assert worker.returncode != 0
        replacement = celery_worker_process(queues="backups", extra_env=env)
        wait_for(lambda: BackupRun.objects.get(pk=second.pk).status == BackupRun.Status.SUCCEEDED, timeout=90,
                 what="the restarted worker to run the backup that waited in Redis")
        replacement.send_signal(signal.SIGTERM)
    assert BackupRun.objects.get(pk=second.pk).status == BackupRun.Status.SUCCEEDED
    if worker.poll() is None:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(timeout=20)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()


def test_redis_down_during_snapshot_collection_is_recorded_naming_it(own_redis, settings):
    settings.CELERY_BROKER_URL = own_redis.url
    settings.MONITOR_DISABLED_CHECKS = ["celery", "docker"]
    healthy = health_snapshot_take()
    assert CheckResult.objects.get(snapshot=healthy, check_name="redis:broker").status == "ok"

    own_redis.stop()
    with time_machine.travel(timezone.now() + timedelta(minutes=1), tick=True):
        down = health_snapshot_take()
    assert down is not None and down.status == "critical"
    result = CheckResult.objects.get(snapshot=down, check_name="redis:broker")
    assert result.status == "critical" and f"127.0.0.1:{own_redis.port}" in result.message

    own_redis.start()
    with time_machine.travel(timezone.now() + timedelta(minutes=2), tick=True):
        back = health_snapshot_take()
    assert CheckResult.objects.get(snapshot=back, check_name="redis:broker").status == "ok"
