from __future__ import annotations

from monitoring.models import WorkerHeartbeat


def worker_heartbeats_recent(*, limit: int = 10) -> list[WorkerHeartbeat]:
    return list(WorkerHeartbeat.objects.order_by("-last_seen")[:limit])
