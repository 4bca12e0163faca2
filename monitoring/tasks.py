from __future__ import annotations

import os

from celery import shared_task

from monitoring.services import worker_heartbeat_record


@shared_task(bind=True, name="monitoring.tasks.record_heartbeat")
def record_heartbeat(self) -> None:
    delivery = self.request.delivery_info or {}
    queue = delivery.get("routing_key") or delivery.get("exchange") or "monitoring"
    worker_heartbeat_record(hostname=self.request.hostname or "unknown", queue=queue, pid=os.getpid())
