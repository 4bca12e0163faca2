from __future__ import annotations

import os

from celery import shared_task
from django.db import transaction

from monitoring.checks.celery import HEARTBEAT_TICK
from monitoring.services import beat_tick_record, health_snapshot_take, worker_heartbeat_record
from monitoring.signals import snapshot_taken


@shared_task(bind=True, name="monitoring.tasks.record_heartbeat")
def record_heartbeat(self) -> None:
    """Sent by beat: proves beat ticks and a worker takes monitoring tasks (each worker also reports on its own)."""
    delivery = self.request.delivery_info or {}
    queue = delivery.get("routing_key") or delivery.get("exchange") or "monitoring"
    hostname = self.request.hostname or "unknown"
    worker_heartbeat_record(hostname=hostname, queue=queue, pid=os.getpid())
    beat_tick_record(name=HEARTBEAT_TICK, hostname=hostname)


@shared_task(name="monitoring.tasks.take_snapshot", ignore_result=True)
def take_snapshot() -> None:
    snapshot = health_snapshot_take()
    if snapshot is None:
        return  # this interval already has its snapshot, and its evaluation
    # Alerting evaluates its rules right after each snapshot (beat's own evaluate schedule is only a safety net).
    transaction.on_commit(lambda: snapshot_taken.send(sender=take_snapshot, snapshot_id=snapshot.pk))


@shared_task(name="monitoring.tasks.rollup_and_prune", ignore_result=True)
def rollup_and_prune() -> None:
    from monitoring.history import health_history_rollup_and_prune

    health_history_rollup_and_prune()
