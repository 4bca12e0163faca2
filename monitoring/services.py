from __future__ import annotations

from datetime import datetime

from django.db import transaction
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
    """Run the host checks on this host and store them as its report (called by each worker's heartbeat)."""
    from monitoring import registry
    from monitoring.runner import local_hostname, run_checks

    results, _jobs = run_checks(registry.checks(per_host=True), deadline=deadline)
    report, _ = HostReport.objects.update_or_create(
        hostname=local_hostname(),
        defaults={"reported_at": timezone.now(),
                  "results": [result.to_dict(with_samples=True) for result in results]},
    )
    return report


def health_snapshot_take(*, deadline: float | None = None) -> HealthSnapshot:
    """Run every check (here and, through their reports, on every host) and store the outcome with its metrics."""
    from monitoring.runner import health_report_collect

    report = health_report_collect(metrics=True, deadline=deadline)
    taken_at = report.generated_at
    with transaction.atomic():
        snapshot = HealthSnapshot.objects.create(taken_at=taken_at, status=report.status,
                                                 duration_ms=report.duration * 1000)
        CheckResult.objects.bulk_create([
            CheckResult(snapshot=snapshot, taken_at=taken_at, check_name=result.name, host=result.host,
                        status=result.status, message=result.message, duration_ms=result.duration * 1000,
                        values=result.values)
            for result in report.results
        ])
        MetricSample.objects.bulk_create([
            MetricSample(snapshot=snapshot, taken_at=taken_at, name=sample.name, labels=sample.labels_key(),
                         value=sample.value)
            for sample in report.samples()
        ])
    return snapshot
