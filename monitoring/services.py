from __future__ import annotations

from datetime import datetime

from django.utils import timezone

from monitoring.models import WorkerHeartbeat


def worker_heartbeat_record(
    *, hostname: str, queue: str, pid: int | None, at: datetime | None = None
) -> WorkerHeartbeat:
    heartbeat, _ = WorkerHeartbeat.objects.update_or_create(
        hostname=hostname, queue=queue, defaults={"pid": pid, "last_seen": at or timezone.now()}
    )
    return heartbeat
