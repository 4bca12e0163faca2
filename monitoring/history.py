"""Rollups and pruning of health history: min/avg/max per metric series and status counts per check, per hour and
per UTC day.

Three tiers: raw minutes (MetricSample, CheckResult) for MONITOR_RAW_RETENTION; hourly rollups computed from them
and daily rollups computed from the hourly ones, both for MONITOR_ROLLUP_RETENTION. A daily row covers one whole UTC
day (00:00 to 24:00 UTC); the current day's row holds the hours completed so far and is recomputed every hour.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from django.apps import apps as installed_apps
from django.apps.registry import Apps
from django.conf import settings
from django.db import connection, transaction
from django.db.models import Avg, Count, F, Max, Min, Q, Sum
from django.db.models.functions import TruncDay, TruncHour
from django.dispatch import Signal
from django.utils import timezone

from monitoring.models import (
    CheckDailyRollup,
    CheckResult,
    CheckRollup,
    HealthSnapshot,
    HostReport,
    MetricDailyRollup,
    MetricRollup,
    MetricSample,
    Status,
)

# Sent after the hourly rollup-and-prune (kwargs: count): readers of rollups (the dashboards) refresh their caches.
rollups_written = Signal()


def _hour(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


def utc_day(moment: datetime) -> datetime:
    """The UTC midnight starting the day of `moment` (what date_trunc('day', moment, 'UTC') returns)."""
    return moment.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def health_history_rollup(*, since: datetime | None = None, until: datetime | None = None) -> int:
    """(Re)compute the hourly rollups of every complete hour in [since, until), then the daily rollups of every UTC
    day those hours touch; idempotent. Returns rows written (hourly and daily).

    Without `since`, starts at the hour after the newest rollup (or the oldest raw sample), so each run only does
    the hours that completed since the previous run, and rewrites today's (partial) daily row with them.
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

    with transaction.atomic():  # readers never see an hour without its day
        hourly = _hourly_rollups_write(since=since, until=until)
        daily = health_history_rollup_daily(since=since, until=until)
    return hourly + daily


def _hourly_rollups_write(*, since: datetime, until: datetime) -> int:
    metric_rows = (
        MetricSample.objects.filter(taken_at__gte=since, taken_at__lt=until)
        .annotate(hour=TruncHour("taken_at"))
        .values("hour", "name", "labels")
        .annotate(count=Count("id"), minimum=Min("value"), average=Avg("value"), maximum=Max("value"))
    )
    metric_rollups = [MetricRollup(**row) for row in metric_rows]
    _rollups_write(MetricRollup, metric_rollups, time_field="hour", unique_fields=["name", "labels", "hour"],
                   update_fields=["count", "minimum", "average", "maximum"])
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
    _rollups_write(CheckRollup, check_rollups, time_field="hour", unique_fields=["check_name", "host", "hour"],
                   update_fields=["ok_count", "warning_count", "critical_count", "average_duration_ms"])
    return len(metric_rollups) + len(check_rollups)


def health_history_rollup_daily(*, since: datetime, until: datetime, apps: Apps | None = None) -> int:
    """(Re)compute from the hourly rollups the daily rollups of every UTC day that [since, until) touches, from the
    day of `since` through the day of the last instant before `until`; idempotent (upserts; on SQLite, which has no
    covering unique index, the days' rows are replaced). Returns rows written.

    count is the sum of the hours' counts, minimum/maximum the extremes, average the hours' averages weighted by
    their counts; for checks the status counts are summed and the duration weighted by each hour's result count.
    A day whose hours are not all rolled up yet (today) gets a partial row, completed by the next runs.
    `apps` is the app registry to take the models from (a migration passes its historical one).
    """
    registry = apps or installed_apps
    hourly_metrics = registry.get_model("monitoring", "MetricRollup")
    hourly_checks = registry.get_model("monitoring", "CheckRollup")
    daily_metrics = registry.get_model("monitoring", "MetricDailyRollup")
    daily_checks = registry.get_model("monitoring", "CheckDailyRollup")
    first = utc_day(since)
    after = utc_day(until - timedelta(microseconds=1)) + timedelta(days=1)
    if first >= after:
        return 0
    # Aggregated in the database: Python sees one row per series and day (7,300 for a year of 20 series).
    metric_days = (
        hourly_metrics.objects.filter(hour__gte=first, hour__lt=after)
        .annotate(day=TruncDay("hour", tzinfo=UTC))
        .values("day", "name", "labels")
        .annotate(samples=Sum("count"), low=Min("minimum"), high=Max("maximum"),
                  weighted=Sum(F("average") * F("count")), plain=Avg("average"))
        .order_by()
    )
    metric_rows = [
        daily_metrics(day=row["day"], name=row["name"], labels=row["labels"], count=row["samples"],
                      minimum=row["low"], maximum=row["high"],
                      average=row["weighted"] / row["samples"] if row["samples"] else row["plain"])
        for row in metric_days
    ]
    _rollups_write(daily_metrics, metric_rows, time_field="day", unique_fields=["name", "labels", "day"],
                   update_fields=["count", "minimum", "average", "maximum"])
    results = F("ok_count") + F("warning_count") + F("critical_count")
    check_days = (
        hourly_checks.objects.filter(hour__gte=first, hour__lt=after)
        .annotate(day=TruncDay("hour", tzinfo=UTC))
        .values("day", "check_name", "host")
        .annotate(ok=Sum("ok_count"), warning=Sum("warning_count"), critical=Sum("critical_count"),
                  results=Sum(results), weighted=Sum(F("average_duration_ms") * results),
                  plain=Avg("average_duration_ms"))
        .order_by()
    )
    check_rows = [
        daily_checks(day=row["day"], check_name=row["check_name"], host=row["host"], ok_count=row["ok"],
                     warning_count=row["warning"], critical_count=row["critical"],
                     average_duration_ms=row["weighted"] / row["results"] if row["results"] else row["plain"])
        for row in check_days
    ]
    _rollups_write(daily_checks, check_rows, time_field="day", unique_fields=["check_name", "host", "day"],
                   update_fields=["ok_count", "warning_count", "critical_count", "average_duration_ms"])
    return len(metric_rows) + len(check_rows)


def _rollups_write(model, rows: list, *, time_field: str, unique_fields: list[str], update_fields: list[str]) -> None:
    """Insert rollup rows, replacing those with the same key (an hour or a day computed again)."""
    if connection.features.supports_covering_indexes:
        model.objects.bulk_create(rows, batch_size=5000, update_conflicts=True, unique_fields=unique_fields,
                                  update_fields=update_fields)
        return
    # SQLite creates no unique constraint with INCLUDE columns (models.W039), so there is no ON CONFLICT target:
    # replace the rows of the hours (days) computed again instead, which gives the same table.
    moments = sorted({getattr(row, time_field) for row in rows})
    with transaction.atomic():
        for index in range(0, len(moments), 500):
            model.objects.filter(**{f"{time_field}__in": moments[index:index + 500]}).delete()
        model.objects.bulk_create(rows, batch_size=5000)


def health_history_prune(*, now: datetime | None = None) -> dict[str, int]:
    """Delete raw history past MONITOR_RAW_RETENTION, rollups past MONITOR_ROLLUP_RETENTION, long-silent hosts.

    A daily rollup goes only once its whole UTC day is past the rollup cutoff (day < the cutoff's day), so the
    oldest day kept may outlive some of its hourly rows by up to a day.
    """
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
        "metric_daily_rollups": MetricDailyRollup.objects.filter(day__lt=utc_day(rollup_cutoff)).delete()[0],
        "check_daily_rollups": CheckDailyRollup.objects.filter(day__lt=utc_day(rollup_cutoff)).delete()[0],
        "host_reports": HostReport.objects.filter(reported_at__lt=now - timedelta(days=1)).delete()[0],
    }
    return deleted


def health_history_rollup_and_prune() -> dict[str, int]:
    written = health_history_rollup()
    outcome = {"rollups_written": written, **health_history_prune()}
    rollups_written.send(sender=health_history_rollup_and_prune, count=written)
    return outcome
