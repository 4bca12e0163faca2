"""Every worker reports its own heartbeat per queue and its own host's checks; the health view names every host."""

from __future__ import annotations

import pytest

from monitoring.models import BeatTick, HealthSnapshot, HostReport, WorkerHeartbeat
from tests.conftest import wait_for
from tests.monitoring.conftest import HEALTH_TOKEN

pytestmark = pytest.mark.django_db(transaction=True)

WORKER_ENV = {"MONITOR_HEARTBEAT_INTERVAL": "1s", "MONITOR_HOSTNAME": "worker-b", "MONITOR_DOCKER_URL": ""}


def test_two_workers_on_two_hosts_each_report_without_any_beat_task(celery_worker_process):
    celery_worker_process(queues="backups", extra_env=WORKER_ENV)
    celery_worker_process(queues="monitoring", extra_env={**WORKER_ENV, "MONITOR_HOSTNAME": "worker-c"})
    wait_for(lambda: HostReport.objects.filter(hostname__in=["worker-b", "worker-c"]).count() == 2, timeout=60,
             what="both worker hosts to report")
    beats = set(WorkerHeartbeat.objects.values_list("hostname", "queue"))
    assert {queue for _host, queue in beats} == {"backups", "monitoring"}
    report = HostReport.objects.get(hostname="worker-b")
    assert {item["name"] for item in report.results} == {"disk", "memory", "cpu"}
    first = report.reported_at
    wait_for(lambda: HostReport.objects.get(hostname="worker-b").reported_at > first, timeout=15,
             what="the next heartbeat")


def test_health_and_metrics_show_every_host_by_name(celery_worker_process, client, settings):
    settings.MONITOR_DISABLED_CHECKS = ["docker"]
    celery_worker_process(queues="backups,monitoring", extra_env=WORKER_ENV)
    wait_for(lambda: HostReport.objects.filter(hostname="worker-b").exists(), timeout=60, what="worker-b report")

    body = client.get("/api/system/health", HTTP_AUTHORIZATION=f"Bearer {HEALTH_TOKEN}").json()
    labels = {(check["name"], check["host"]) for check in body["checks"]}
    assert {("disk", "web-test"), ("disk", "worker-b"), ("memory", "worker-b"), ("cpu", "worker-b")} <= labels
    celery = next(check for check in body["checks"] if check["name"] == "celery")
    [worker] = celery["values"]["workers"]["backups"]
    assert worker.startswith("test0@")  # the Celery node name of the worker started above

    metrics = client.get("/api/system/metrics", HTTP_AUTHORIZATION=f"Bearer {settings.METRICS_TOKEN}").json()
    hosts = {sample["labels"].get("host") for sample in metrics["samples"] if sample["name"] == "memory_used_percent"}
    assert hosts == {"web-test", "worker-b"}


def test_beat_heartbeat_and_snapshot_tasks_run_on_the_monitoring_queue(celery_worker_process):
    from monitoring.tasks import record_heartbeat, take_snapshot

    celery_worker_process(queues="monitoring", extra_env=WORKER_ENV)
    record_heartbeat.delay()
    take_snapshot.delay()
    wait_for(lambda: BeatTick.objects.exists() and HealthSnapshot.objects.exists(), timeout=60,
             what="the heartbeat and snapshot tasks")
    snapshot = HealthSnapshot.objects.get()
    names = set(snapshot.results.values_list("check_name", "host"))
    assert ("database", "") in names and ("disk", "worker-b") in names
    assert snapshot.samples.filter(name="health_check_status").exists()


def test_a_silent_host_becomes_one_warning(settings, client):
    from datetime import timedelta

    from django.utils import timezone

    settings.MONITOR_DISABLED_CHECKS = ["celery"]
    HostReport.objects.create(hostname="gone-host", reported_at=timezone.now() - timedelta(minutes=10),
                              results=[{"name": "disk", "status": "ok"}])
    body = client.get("/api/system/health", HTTP_AUTHORIZATION=f"Bearer {HEALTH_TOKEN}").json()
    gone = [check for check in body["checks"] if check["host"] == "gone-host"]
    assert [(check["name"], check["status"]) for check in gone] == [("host", "warning")]
