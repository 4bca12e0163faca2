from __future__ import annotations

from datetime import timedelta

from opsportal.celery import MONITORING_QUEUE
from opsportal.lib.schedules import ensure_periodic_task


def create_default_schedules(**_: object) -> None:
    ensure_periodic_task(
        name="monitoring: worker heartbeat",
        task="monitoring.tasks.record_heartbeat",
        queue=MONITORING_QUEUE,
        every=timedelta(seconds=30),
        description="Each run records which worker host took it, so the portal knows workers are alive.",
    )
