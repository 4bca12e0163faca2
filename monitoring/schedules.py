from __future__ import annotations

from datetime import timedelta

from django.conf import settings

from opsportal.celery import MONITORING_QUEUE
from opsportal.lib.schedules import ensure_periodic_task


def create_default_schedules(**_: object) -> None:
    ensure_periodic_task(
        name="monitoring: worker heartbeat",
        task="monitoring.tasks.record_heartbeat",
        queue=MONITORING_QUEUE,
        every=timedelta(seconds=30),
        description="Proves beat ticks and a worker takes monitoring tasks (each worker also reports on its own).",
    )
    ensure_periodic_task(
        name="monitoring: health snapshot",
        task="monitoring.tasks.take_snapshot",
        queue=MONITORING_QUEUE,
        every=settings.MONITOR_SNAPSHOT_INTERVAL,
        description="Runs every health check and stores a snapshot with its results and metrics.",
    )
    ensure_periodic_task(
        name="monitoring: rollup and prune history",
        task="monitoring.tasks.rollup_and_prune",
        queue=MONITORING_QUEUE,
        crontab={"minute": "5"},
        description="Hourly min/avg/max rollups; deletes raw history past its retention.",
    )
