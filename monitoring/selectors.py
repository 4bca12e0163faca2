from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _

from monitoring.checks.base import CheckResult
from monitoring.history import utc_day
from monitoring.models import (
    CheckDailyRollup,
    CheckRollup,
    HealthSnapshot,
    HostReport,
    MetricDailyRollup,
    MetricRollup,
    MetricSample,
    Status,
    WorkerHeartbeat,
)
from monitoring.models import (
    CheckResult as CheckResultRow,
)


def worker_heartbeats_recent(*, limit: int = 10) -> list[WorkerHeartbeat]:
    return list(WorkerHeartbeat.objects.order_by("-last_seen")[:limit])


def host_reports_current(*, exclude: str = "") -> list[CheckResult]:
    """The host checks each worker host last reported; a host gone silent is one 'host' warning instead."""
    now = timezone.now()
    stale = settings.MONITOR_WORKER_STALE
    results: list[CheckResult] = []
    for report in HostReport.objects.exclude(hostname=exclude).order_by("hostname"):
        age = now - report.reported_at
        if age > stale:
            results.append(CheckResult(
                name="host", host=report.hostname, status=Status.WARNING, critical=False,
                message=_("no report from this host for %(minutes)d min") % {"minutes": age.total_seconds() // 60},
                values={"reported_at": report.reported_at.isoformat()},
            ))
            continue
        for item in report.results:
            result = CheckResult.from_dict(item)
            result.host = report.hostname
            results.append(result)
    return results


def health_overview() -> dict[str, Any]:
    """For the admin index: the latest snapshot, its failing checks, per-host status and worker heartbeats.

    Reads stored records only (the last snapshot taken by the beat task), so the admin index stays fast even when
    a dependency hangs.
    """
    latest = HealthSnapshot.objects.order_by("-taken_at").first()
    results = list(latest.results.order_by("check_name", "host")) if latest else []
    hosts: dict[str, str] = {}
    severity = {Status.OK: 0, Status.WARNING: 1, Status.CRITICAL: 2}
    for row in results:
        if row.host:
            current = hosts.get(row.host, Status.OK)
            hosts[row.host] = max(current, row.status, key=lambda status: severity[Status(status)])
    return {
        "snapshot": latest,
        "status": latest.status if latest else None,
        "age": (timezone.now() - latest.taken_at) if latest else None,
        "problems": [row for row in results if row.status != Status.OK],
        "results": results,
        "hosts": sorted(hosts.items()),
        "worker_heartbeats": worker_heartbeats_recent(limit=20),
    }


def _resolution(start: datetime, end: datetime) -> str:
    """raw minutes up to two days (inside the raw retention), hours up to 31 days, days beyond: at most ~750 points."""
    if end - start <= timedelta(days=2) and start >= timezone.now() - settings.MONITOR_RAW_RETENTION:
        return "raw"
    if end - start <= timedelta(days=31):
        return "hour"
    return "day"


def metric_series(*, name: str, labels: str = "", start: datetime, end: datetime | None = None,
                  ) -> list[dict[str, Any]]:
    """Points {t, min, avg, max} of one metric series at a resolution a chart can draw.

    Short ranges read raw samples, up to 31 days the hourly rollups, longer ones the daily rollups: a year is 365
    rows from one index-only range scan. A daily point (t = UTC midnight) covers its whole UTC day, so the first
    point is the whole day `start` falls in (see _daily_bounds).
    """
    end = end or timezone.now()
    resolution = _resolution(start, end)
    if resolution == "raw":
        rows = MetricSample.objects.filter(name=name, labels=labels, taken_at__gte=start, taken_at__lte=end)
        return [{"t": taken_at, "avg": value, "min": value, "max": value}
                for taken_at, value in rows.order_by("taken_at").values_list("taken_at", "value")]
    if resolution == "hour":
        rows = MetricRollup.objects.filter(name=name, labels=labels, hour__gte=start, hour__lte=end)
        return [{"t": hour, "avg": average, "min": minimum, "max": maximum}
                for hour, average, minimum, maximum in rows.order_by("hour").values_list(
                    "hour", "average", "minimum", "maximum")]
    first, last = _daily_bounds(start, end)
    days = MetricDailyRollup.objects.filter(name=name, labels=labels, day__gte=first, day__lte=last)
    return [{"t": day, "avg": average, "min": minimum, "max": maximum}
            for day, average, minimum, maximum in days.order_by("day").values_list(
                "day", "average", "minimum", "maximum")]


def _daily_bounds(start: datetime, end: datetime) -> tuple[datetime, datetime]:
    """The daily rows a range reads: day >= date_trunc('day', start, 'UTC') and day <= end.

    A daily row stands for its whole UTC day, so the day `start` falls in is included whole (a year reads 366 rows
    at most), and the current day is the partial row of the hours rolled up so far.
    """
    return utc_day(start), end


def metric_series_many(*, series: list[tuple[str, str]], start: datetime, end: datetime | None = None,
                       ) -> dict[tuple[str, str], list[dict[str, Any]]]:
    """Several series (name, labels) of one chart page over the same range.

    One query per series on purpose: each is an index-only range scan, where one query for all of them would read
    the same rows through a bitmap and sort them (measured slower with a year of data).
    """
    end = end or timezone.now()
    return {(name, labels): metric_series(name=name, labels=labels, start=start, end=end) for name, labels in series}


def check_status_history(*, check_name: str, host: str = "", start: datetime, end: datetime | None = None,
                         ) -> list[dict[str, Any]]:
    """ok/warning/critical counts of one check per hour (up to 31 days, hourly rollups) or per UTC day (longer,
    daily rollups; the first day whole, as in metric_series)."""
    end = end or timezone.now()
    if _resolution(start, end) != "day":
        rows = CheckRollup.objects.filter(check_name=check_name, host=host, hour__gte=start, hour__lte=end)
        return [{"t": hour, "ok": ok, "warning": warning, "critical": critical}
                for hour, ok, warning, critical in rows.order_by("hour").values_list(
                    "hour", "ok_count", "warning_count", "critical_count")]
    first, last = _daily_bounds(start, end)
    days = CheckDailyRollup.objects.filter(check_name=check_name, host=host, day__gte=first, day__lte=last)
    return [{"t": day, "ok": ok, "warning": warning, "critical": critical}
            for day, ok, warning, critical in days.order_by("day").values_list(
                "day", "ok_count", "warning_count", "critical_count")]


def check_rollup_pairs(*, start: datetime, end: datetime) -> list[tuple[str, str]]:
    """The distinct (check_name, host) with rollups in the range, sorted: from the daily rollups when the range is
    read per day (the same rows check_status_history reads), from the hourly ones otherwise."""
    if _resolution(start, end) == "day":
        first, last = _daily_bounds(start, end)
        rows = CheckDailyRollup.objects.filter(day__gte=first, day__lte=last)
    else:
        rows = CheckRollup.objects.filter(hour__gte=start, hour__lte=end)
    return list(rows.values_list("check_name", "host").distinct().order_by("check_name", "host"))


def check_results_recent(*, check_name: str, limit: int = 60) -> list[CheckResultRow]:
    return list(CheckResultRow.objects.filter(check_name=check_name).order_by("-taken_at")[:limit])
