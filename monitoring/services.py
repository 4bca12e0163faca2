from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from monitoring.models import BeatTick, CheckResult, HealthSnapshot, HostReport, MetricSample, WorkerHeartbeat


def worker_heartbeat_record(
    *, hostname: str, queue: str, pid: int | None, at: datetime | None = None
) -> WorkerHeartbeat:
    heartbeat, _ = WorkerHeartbeat.objects.update_or_create(
        hostname=hostname, queue=queue, defaults={"pid": pid, "last_seen": at or timezone.now()}
    )
    return heartbeat


def beat_tick_record(*, name: str, hostname: str, at: datetime | None = None) -> BeatTick:
    tick, _ = BeatTick.objects.update_or_create(name=name, defaults={"last_tick": at or timezone.now(),
                                                                     "hostname": hostname})
    return tick


def host_report_record(*, deadline: float | None = None) -> HostReport:
    """Run the host checks on this host and store them as its report (by the worker and web host report loops)."""
    from monitoring import registry
    from monitoring.runner import local_hostname, run_checks

    results, _jobs = run_checks(registry.checks(per_host=True), deadline=deadline)
    report, _ = HostReport.objects.update_or_create(
        hostname=local_hostname(),
        defaults={"reported_at": timezone.now(),
                  "results": [result.to_dict(with_samples=True) for result in results]},
    )
    return report


SNAPSHOT_LOCK_KEY = 0x6F70_736E_6170  # "opsnap": an arbitrary, fixed advisory-lock key


def _snapshot_slot_taken(now: datetime) -> bool:
    """Whether another snapshot is being taken now, or one was taken within half an interval of `now`.

    Overlapping beat ticks (two beats, a redelivered or backlogged message) then add no duplicate snapshot. The
    window reaches both ways, so after the clock jumps back the newer-looking snapshots do not stop new ones.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [SNAPSHOT_LOCK_KEY])
            if not cursor.fetchone()[0]:
                return True
    half = settings.MONITOR_SNAPSHOT_INTERVAL / 2
    return HealthSnapshot.objects.filter(taken_at__gt=now - half, taken_at__lt=now + half).exists()


def health_snapshot_take(*, deadline: float | None = None) -> HealthSnapshot | None:
    """Run every check (here and, through their reports, on every host) and store the outcome with its metrics.

    None when this interval already has its snapshot (or one is being taken right now).
    """
    from monitoring.runner import health_report_collect

    with transaction.atomic():  # holds the advisory lock while the checks run
        if _snapshot_slot_taken(timezone.now()):
            return None
        report = health_report_collect(metrics=True, deadline=deadline)
        taken_at = report.generated_at
        snapshot = HealthSnapshot.objects.create(taken_at=taken_at, status=report.status,
                                                 duration_ms=report.duration * 1000)
        CheckResult.objects.bulk_create([
            # Stored as it counts: paging, history and the overview read `status`; the check's own word stays.
            CheckResult(snapshot=snapshot, taken_at=taken_at, check_name=result.name, host=result.host,
                        status=result.counts_as, reported_status=result.status, message=result.message,
                        message_id=result.message_id, message_params=result.message_params,
                        duration_ms=result.duration * 1000,
                        values=result.values)
            for result in report.results
        ])
        MetricSample.objects.bulk_create([
            MetricSample(snapshot=snapshot, taken_at=taken_at, name=sample.name, labels=sample.labels_key(),
                         value=sample.value)
            for sample in report.samples()
        ])
    return snapshot
