"""Thin tasks: each takes an id (or nothing), calls one service. probe_target goes to the probes queue, the rest to
the monitoring queue (opsportal/celery.py)."""

from __future__ import annotations

import logging

from celery import shared_task
from django.conf import settings

from performance.services import perf_maintenance_run, perf_probes_enqueue, perf_target_probe
from performance.slots import perf_probe_slot

logger = logging.getLogger(__name__)


@shared_task(name="performance.tasks.probe_targets")
def probe_targets() -> int:
    return perf_probes_enqueue()


@shared_task(bind=True, name="performance.tasks.probe_target", max_retries=None)
def probe_target(self, target_id: int) -> None:
    """Probe one target (on the probes queue) once a probe slot is free; wait for one without holding a process."""
    with perf_probe_slot() as slot:
        if slot is not None:
            perf_target_probe(target_id=target_id)
            return
    wait = settings.PERF_PROBE_SLOT_WAIT.total_seconds()
    if self.request.retries * wait >= settings.PERF_PROBE_INTERVAL.total_seconds():
        # The next round of probes is queued by now; this one would only add to a backlog.
        logger.warning("perf target %s not probed: no probe slot free for a whole probe interval", target_id)
        return
    raise self.retry(countdown=wait)


@shared_task(name="performance.tasks.rollup_and_prune")
def rollup_and_prune() -> dict[str, int]:
    return perf_maintenance_run()
