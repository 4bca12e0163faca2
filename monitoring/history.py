"""Rollups and pruning of health history: hourly min/avg/max per metric series and status counts per check."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Avg, Count, Max, Min, Q
from django.db.models.functions import TruncHour
from django.dispatch import Signal
from django.utils import timezone

from monitoring.models import CheckResult, CheckRollup, HealthSnapshot, HostReport, MetricRollup, MetricSample, Status

# Sent after the hourly rollup-and-prune (kwargs: count): readers of rollups (the dashboards) refresh their caches.
rollups_written = Signal()


def _hour(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


def health_history_rollup(*, since: datetime | None = None, until: datetime | None = None) -> int:
    """(Re)compute the rollups of every complete hour in [since, until); idempotent. Returns rows written.

    Without `since`, starts at the hour after the newest rollup (or the oldest raw sample), so each run only does
    the hours that completed since the previous run.
    """
    until = _hour(until or timezone.now())
    if since is None:
        newest = MetricRollup.objects.order_by("-hour").values_list("hour", flat=True).first()
        oldest_raw = MetricSample.objects.order_by("taken_at").values_list("taken_at", flat=True).first()
        if newest is not None:
            since = newest + timedelta(hours=1)
        elif oldest_raw is not None:
            since = _hour(oldest_raw)
        else:
            return 0
    since = _hour(since)
    if since >= until:
        return 0

    metric_rows = (
        MetricSample.objects.filter(taken_at__gte=since, taken_at__lt=until)
        .annotate(hour=TruncHour("taken_at"))
        .values("hour", "name", "labels")
        .annotate(count=Count("id"), minimum=Min("value"), average=Avg("value"), maximum=Max("value"))
    )
    metric_rollups = [MetricRollup(**row) for row in metric_rows]
    MetricRollup.objects.bulk_create(
        metric_rollups, batch_size=5000, update_conflicts=True, unique_fields=["name", "labels", "hour"],
        update_fields=["count", "minimum", "average", "maximum"],
    )
    check_rows = (
        CheckResult.objects.filter(taken_at__gte=since, taken_at__lt=until)
        .annotate(hour=TruncHour("taken_at"))
        .values("hour", "check_name", "host")
        .annotate(
            ok_count=Count("id", filter=Q(status=Status.OK)),
            warning_count=Count("id", filter=Q(status=Status.WARNING)),
            critical_count=Count("id", filter=Q(status=Status.CRITICAL)),
            average_duration_ms=Avg("duration_ms"),
        )
    )
    check_rollups = [CheckRollup(**row) for row in check_rows]
    CheckRollup.objects.bulk_create(
        check_rollups, batch_size=5000, update_conflicts=True, unique_fields=["check_name", "host", "hour"],
        update_fields=["ok_count", "warning_count", "critical_count", "average_duration_ms"],
    )
    return len(metric_rollups) + len(check_rollups)


def health_history_prune(*, now: datetime | None = None) -> dict[str, int]:
    """Delete raw history past MONITOR_RAW_RETENTION, rollups past MONITOR_ROLLUP_RETENTION, long-silent hosts."""
    now = now or timezone.now()
    raw_cutoff = now - settings.MONITOR_RAW_RETENTION
    rollup_cutoff = now - settings.MONITOR_ROLLUP_RETENTION
    # Children first by their own indexed timestamp: one DELETE each, no per-row cascade collection.
    deleted = {
        "metric_samples": MetricSample.objects.filter(taken_at__lt=raw_cutoff)._raw_delete("default"),
        "check_results": CheckResult.objects.filter(taken_at__lt=raw_cutoff)._raw_delete("default"),
        "snapshots": HealthSnapshot.objects.filter(taken_at__lt=raw_cutoff)._raw_delete("default"),
        "metric_rollups": MetricRollup.objects.filter(hour__lt=rollup_cutoff).delete()[0],
        "check_rollups": CheckRollup.objects.filter(hour__lt=rollup_cutoff).delete()[0],
        "host_reports": HostReport.objects.filter(reported_at__lt=now - timedelta(days=1)).delete()[0],
    }
    return deleted


def health_history_rollup_and_prune() -> dict[str, int]:
    written = health_history_rollup()
    outcome = {"rollups_written": written, **health_history_prune()}
    rollups_written.send(sender=health_history_rollup_and_prune, count=written)
    return outcome
