"""Tasks run through real Celery workers: on the real Redis broker, and on the embedded filesystem broker."""

from __future__ import annotations

import sqlite3
import subprocess
import sys

import pytest

from monitoring.models import WorkerHeartbeat
from monitoring.tasks import record_heartbeat
from tests.conftest import wait_for
from tests.opsportal.embedded import ROOT, clean_env, prepare


@pytest.mark.django_db(transaction=True)
def test_task_runs_through_a_real_worker_on_redis(celery_worker_process):
    worker = celery_worker_process(queues="monitoring")
    record_heartbeat.delay()
    heartbeat = wait_for(
        lambda: WorkerHeartbeat.objects.filter(queue="monitoring").first(), timeout=60, what="the worker's heartbeat"
    )
    assert heartbeat.hostname.startswith("test0@")
    assert heartbeat.pid == worker.pid  # solo pool: the task ran inside the worker process we started


def test_routes_send_backups_and_monitoring_tasks_to_their_queues():
    from opsportal.celery import app

    router = app.amqp.router
    assert router.route({}, "backups.tasks.backup_run_execute")["queue"].name == "backups"
    assert router.route({}, "monitoring.tasks.record_heartbeat")["queue"].name == "monitoring"
    assert router.route({}, "performance.tasks.probe_targets")["queue"].name == "monitoring"
    assert router.route({}, "alerting.tasks.evaluate")["queue"].name == "monitoring"
    assert app.conf.worker_prefetch_multiplier == 1


def test_embedded_default_runs_a_task_through_the_filesystem_broker(tmp_path):
    prepare(tmp_path)
    env = clean_env(tmp_path)
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "opsportal",
            "worker",
            "-Q",
            "monitoring",
            "--pool",
            "solo",
            "-n",
            "embedded@%h",
            "--loglevel",
            "INFO",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        subprocess.run(
            [
                sys.executable,
                "manage.py",
                "shell",
                "-c",
                "from monitoring.tasks import record_heartbeat; record_heartbeat.delay()",
            ],
            cwd=ROOT,
            env=env,
            check=True,
            timeout=60,
        )

        def heartbeat_rows():
            with sqlite3.connect(tmp_path / "opsportal.sqlite3") as db:
                return db.execute("select hostname, queue from monitoring_workerheartbeat").fetchall()

        rows = wait_for(heartbeat_rows, timeout=60, interval=0.5, what="a heartbeat through the filesystem broker")
        assert rows[0][0].startswith("embedded@")
        assert rows[0][1] == "monitoring"
    finally:
        worker.terminate()
        output = worker.communicate(timeout=30)[0].decode(errors="replace")
    assert "filesystem" in output.lower()
