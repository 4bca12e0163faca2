"""What other apps (alerting) may read of monitoring: the metric samples and check results of the latest health
snapshot, as plain data. Monitoring imports no alerting: alerting turns these readings into its observations
(alerting/sources.py).

Only a fresh snapshot counts. When snapshots stop (beat or the monitoring worker is down) `snapshot_readings` fails
loudly instead of reporting stale values, and alerting then keeps the alerts it has as they are: a disk alert must
not resolve just because nobody is measuring the disk any more.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings

# The metrics the built-in checks report, so alert rules can name them before the first snapshot exists.
BUILT_IN_METRICS = [
    "health_check_status", "health_check_duration_seconds",
    "disk_used_percent", "disk_free_bytes", "memory_used_percent", "memory_available_bytes",
    "cpu_percent", "load_average", "cpu_cores",
    "database_latency_seconds", "database_connections", "database_max_connections", "database_size_bytes",
    "redis_latency_seconds", "redis_used_memory_bytes", "redis_maxmemory_bytes", "redis_connected_clients",
    "celery_workers_online", "celery_beat_tick_age_seconds", "celery_queue_length",
    "docker_container_restarts", "docker_containers", "migrations_unapplied",
    "backup_last_success_age_seconds", "backup_last_size_bytes",
    # backups/physical/health.py (wal_archive), reported while physical backups are configured
    "backup_wal_archive_age_seconds", "backup_wal_archive_failed_count", "backup_wal_archive_failing",
    "backup_wal_archive_pending_segments", "backup_wal_archive_lag_seconds",
]


class StaleSnapshotError(RuntimeError):
    pass


def parse_labels(key: str) -> dict[str, str]:
    """The inverse of MetricValue.labels_key(): 'host=a,path=/' -> {'host': 'a', 'path': '/'}."""
    labels = {}
    for part in filter(None, key.split(",")):
        name, _, value = part.partition("=")
        labels[name] = value
    return labels


@dataclass(frozen=True)
class Reading:
    """One metric sample (value set, status None) or one check result (status set, value None) of a snapshot."""

    kind: str  # "metric" or "check"
    name: str
    labels: dict[str, str]
    value: float | None
    status: str | None
    at: datetime
    message: str = ""


def snapshot_readings(now: datetime) -> Iterator[Reading]:
    """The latest snapshot's samples and check results; StaleSnapshotError when there is no fresh one."""
    from monitoring.models import HealthSnapshot

    snapshot = HealthSnapshot.objects.order_by("-taken_at").first()
    # Two snapshot intervals and a bit: a snapshot older than that no longer describes the present.
    if snapshot is None:
        raise StaleSnapshotError("no health snapshot yet: is celery beat running?")
    age = now - snapshot.taken_at
    if age > 2 * settings.MONITOR_SNAPSHOT_INTERVAL + settings.HEALTH_DEADLINE:
        raise StaleSnapshotError(f"the latest health snapshot is {age.total_seconds():.0f} s old")
    for name, labels, value in snapshot.samples.values_list("name", "labels", "value"):
        yield Reading(kind="metric", name=name, labels=parse_labels(labels), value=value, status=None,
                      at=snapshot.taken_at)
    for name, host, status, message in snapshot.results.values_list("check_name", "host", "status", "message"):
        yield Reading(kind="check", name=name, labels={"host": host} if host else {}, value=None, status=status,
                      at=snapshot.taken_at, message=message)
