"""Thin tasks: each takes an id (or nothing), calls one service. Routed to the monitoring queue by name."""

from __future__ import annotations

from celery import shared_task

from performance.services import perf_maintenance_run, perf_probes_enqueue, perf_target_probe


@shared_task(name="performance.tasks.probe_targets")
def probe_targets() -> int:
    return perf_probes_enqueue()


@shared_task(name="performance.tasks.probe_target")
def probe_target(target_id: int) -> None:
    perf_target_probe(target_id=target_id)


@shared_task(name="performance.tasks.rollup_and_prune")
def rollup_and_prune() -> dict[str, int]:
    return perf_maintenance_run()
