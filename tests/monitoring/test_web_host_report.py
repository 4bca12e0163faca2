"""A host that runs only gunicorn (no Celery worker) reports its own host checks, through the project's
gunicorn.conf.py, like a worker host: its disk and memory reach snapshots, metrics and other hosts' answers."""

from __future__ import annotations

import fcntl
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from django.utils import timezone

from monitoring.models import HostReport, WorkerHeartbeat
from tests.conftest import Gunicorn, wait_for
from tests.monitoring.conftest import HEALTH_TOKEN

pytestmark = pytest.mark.django_db(transaction=True)

WEB_ENV = {"MONITOR_HEARTBEAT_INTERVAL": "1s", "MONITOR_HOSTNAME": "web-only-1", "MONITOR_DOCKER_URL": ""}


class WebHost(Gunicorn):
    def lock_path(self, hostname: str = "web-only-1") -> Path:
        return self.var_dir / f"web-host-report.{hostname}.lock"

    def reporting_pid(self) -> int | None:
        try:
            text = self.lock_path().read_text().strip()
        except FileNotFoundError:
            return None
        return int(text) if text else None


@pytest.fixture
def web_host(gunicorn_server) -> Callable[..., WebHost]:
    """Start gunicorn as the Procfile does (opsportal.wsgi with -c gunicorn.conf.py) against the test database."""

    def start(*, workers: int = 2, **extra_env: str) -> WebHost:
        return gunicorn_server(workers=workers, server_class=WebHost, **{**WEB_ENV, **extra_env})

    return start


def _report(hostname: str = "web-only-1") -> HostReport | None:
    return HostReport.objects.filter(hostname=hostname).first()


def test_a_web_only_host_reports_its_checks_everywhere_and_stops_cleanly(web_host, client, settings):
    server = web_host()
    report = wait_for(_report, timeout=30, what="web-only-1 to report")
    names = {item["name"]: item for item in report.results}
    assert set(names) == {"disk", "memory", "cpu"}  # docker is switched off here
    assert 0 <= names["disk"]["values"]["/"]["used_percent"] <= 100
    assert names["memory"]["values"]["total_bytes"] > 0
    assert not WorkerHeartbeat.objects.exists()  # a web host consumes no queue
    first = report.reported_at
    wait_for(lambda: _report().reported_at > first, timeout=15, what="the next web host report")

    # Another host (this test process is "web-test") answers with web-only-1's disk and memory.
    settings.MONITOR_DISABLED_CHECKS = ["docker", "celery"]
    body = client.get("/api/system/health", HTTP_AUTHORIZATION=f"Bearer {HEALTH_TOKEN}").json()
    labels = {(check["name"], check["host"]) for check in body["checks"]}
    assert {("disk", "web-only-1"), ("memory", "web-only-1"), ("disk", "web-test")} <= labels

    pid = server.reporting_pid()
    assert pid is not None and pid != server.process.pid  # a gunicorn worker reports, not the master
    assert server.stop() == 0, server.output()
    with server.lock_path().open("a") as lock:  # released: nobody holds it any more
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    assert "Traceback" not in server.output()


def test_one_worker_reports_and_another_takes_over_when_it_is_killed(web_host):
    server = web_host(workers=3)
    wait_for(_report, timeout=30, what="web-only-1 to report")
    reporter = wait_for(server.reporting_pid, timeout=10, what="the lock file to name its holder")
    os.kill(reporter, signal.SIGKILL)  # as gunicorn kills a worker stuck past its timeout
    killed_at = timezone.now()
    successor = wait_for(lambda: (pid := server.reporting_pid()) != reporter and pid, timeout=20,
                         what="another worker to take the lock")
    assert successor != server.process.pid
    wait_for(lambda: _report().reported_at > killed_at, timeout=15, what="a report after the kill")
    assert server.stop() == 0, server.output()


def test_switched_off_a_web_host_stores_no_report(web_host):
    import httpx

    server = web_host(MONITOR_WEB_HOST_REPORT="false")
    live = httpx.get(f"http://127.0.0.1:{server.port}/api/system/health/live", timeout=10)
    assert live.status_code == 200
    time.sleep(4)  # four report intervals
    assert not HostReport.objects.exists()
    assert not server.lock_path().exists()
    assert server.stop() == 0, server.output()


def test_web_and_worker_on_one_host_share_its_one_report(web_host, celery_worker_process):
    web_host(MONITOR_HOSTNAME="both-1")
    celery_worker_process(queues="monitoring", extra_env={**WEB_ENV, "MONITOR_HOSTNAME": "both-1"})
    wait_for(lambda: WorkerHeartbeat.objects.filter(queue="monitoring").exists(), timeout=60,
             what="the worker's heartbeat")
    first = wait_for(lambda: _report("both-1"), timeout=30, what="both-1 to report").reported_at
    wait_for(lambda: _report("both-1").reported_at > first, timeout=15, what="the next report")
    assert list(HostReport.objects.values_list("hostname", flat=True)) == ["both-1"]
