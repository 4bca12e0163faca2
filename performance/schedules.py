from __future__ import annotations

from datetime import timedelta

from django.conf import settings

from opsportal.celery import MONITORING_QUEUE
from opsportal.lib.schedules import ensure_periodic_task


def create_default_schedules(**_: object) -> None:
    """post_migrate: the default beat entries (left alone once they exist) and the targets declared in perf.py."""
    from performance.services import perf_targets_sync

    ensure_periodic_task(
        name="performance: probe targets",
        task="performance.tasks.probe_targets",
        queue=MONITORING_QUEUE,
        every=settings.PERF_PROBE_INTERVAL,
        description="Probes every enabled performance target (API and page loads) and checks its budget.",
    )
    ensure_periodic_task(
        name="performance: hourly rollups and retention",
        task="performance.tasks.rollup_and_prune",
        queue=MONITORING_QUEUE,
        every=timedelta(hours=1),
        description=(
            "Rolls probe results (p50/p95/p99) and request statistics up into hourly rows and removes data past "
            "its retention."
        ),
    )
    perf_targets_sync()
