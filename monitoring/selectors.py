from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.models import F, Max, Min, Sum
from django.db.models.functions import TruncDay
from django.utils import timezone
from django.utils.translation import gettext as _

from monitoring.checks.base import CheckResult
from monitoring.models import (
    CheckResult as CheckResultRow,
)
from monitoring.models import (
    CheckRollup,
    HealthSnapshot,
    HostReport,
    MetricRollup,
    MetricSample,
    Status,
    WorkerHeartbeat,
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


# A chart is at most about this many pixels wide: more points per series only cost reading and sending them.
MAX_POINTS = 720
RAW_STEPS = (60, 300)  # one point per minute, or per five minutes when a raw range is longer than MAX_POINTS minutes
_STEP = {"hour": 3600, "day": 86400}


def history_step(start: datetime, end: datetime) -> int:
    """Seconds one point of a chart covers for [start, end]: 60 or 300 (raw), 3600 (hourly), 86400 (daily)."""
    resolution = _resolution(start, end)
    if resolution != "raw":
        return _STEP[resolution]
    span = (end - start).total_seconds()
    return next((step for step in RAW_STEPS if span <= MAX_POINTS * step), RAW_STEPS[-1])


# date_bin's origin: bins start at whole minutes (and five minutes) of UTC.
BIN_ORIGIN = datetime(2000, 1, 1, tzinfo=UTC)
_RAW_METRIC_SQL = (
    "SELECT extract(epoch FROM date_bin(%(step)s, taken_at, %(origin)s))::bigint, AVG(value), MIN(value), MAX(value)"
    " FROM monitoring_metricsample WHERE name = %(name)s AND labels = %(labels)s AND taken_at >= %(start)s"
    " AND taken_at <= %(end)s GROUP BY 1 ORDER BY 1"
)
_HOURLY_METRIC_SQL = (
    "SELECT extract(epoch FROM hour)::bigint, average, minimum, maximum FROM monitoring_metricrollup"
    " WHERE name = %(name)s AND labels = %(labels)s AND hour >= %(start)s AND hour <= %(end)s ORDER BY hour"
)


def _bin(epoch_seconds: float, step: int) -> int:
    return int(epoch_seconds // step * step)


def metric_points(*, name: str, labels: str = "", start: datetime, end: datetime,
                  ) -> list[tuple[int, float, float, float]]:
    """(epoch seconds, avg, min, max) of one series, one point per `history_step` (the chart's own reader).

    Raw ranges are binned in the database (a day is 288 five-minute points, not 1,440 rows to send and convert);
    longer ones read the rollups. Epoch seconds straight from PostgreSQL: building a datetime per row only to turn
    it back into a number cost more than the query.
    """
    resolution, step = _resolution(start, end), history_step(start, end)
    params = {"name": name, "labels": labels, "start": start, "end": end}
    if resolution == "day":
        return [(int(point["t"].timestamp()), point["avg"], point["min"], point["max"])
                for point in metric_series(name=name, labels=labels, start=start, end=end)]
    if connection.vendor == "postgresql":
        sql = _RAW_METRIC_SQL if resolution == "raw" else _HOURLY_METRIC_SQL
        with connection.cursor() as cursor:
            cursor.execute(sql, {**params, "step": timedelta(seconds=step), "origin": BIN_ORIGIN})
            return cursor.fetchall()
    if resolution == "hour":
        rows = MetricRollup.objects.filter(name=name, labels=labels, hour__gte=start, hour__lte=end)
        return [(int(hour.timestamp()), average, minimum, maximum) for hour, average, minimum, maximum
                in rows.order_by("hour").values_list("hour", "average", "minimum", "maximum")]
    bins: dict[int, list[float]] = {}
    samples = MetricSample.objects.filter(name=name, labels=labels, taken_at__gte=start, taken_at__lte=end)
    for taken_at, value in samples.order_by("taken_at").values_list("taken_at", "value"):
        bins.setdefault(_bin(taken_at.timestamp(), step), []).append(value)
    return [(at, sum(values) / len(values), min(values), max(values)) for at, values in bins.items()]


def metric_series(*, name: str, labels: str = "", start: datetime, end: datetime | None = None,
                  ) -> list[dict[str, Any]]:
    """Points {t, min, avg, max} of one metric series at a resolution a chart can draw.

    Short ranges read raw samples, binned to `history_step` (one minute up to 12 hours, five minutes up to two
    days); longer ones read the hourly rollups, grouped by day past 31 days in the database (the average weighted
    by sample counts), so a year is 365 points from one indexed range scan.
    """
    end = end or timezone.now()
    resolution = _resolution(start, end)
    if resolution != "day":
        return [{"t": datetime.fromtimestamp(at, tz=UTC), "avg": average, "min": minimum, "max": maximum}
                for at, average, minimum, maximum in metric_points(name=name, labels=labels, start=start, end=end)]
    rows = MetricRollup.objects.filter(name=name, labels=labels, hour__gte=start, hour__lte=end)
    if connection.vendor == "postgresql":
        return _rows_as_dicts(_DAILY_METRIC_SQL, [name, labels, start, end], ["t", "avg", "min", "max"])
    days = (
        rows.annotate(t=TruncDay("hour"))
        .values("t")
        .annotate(weighted=Sum(F("average") * F("count")), samples=Sum("count"), min=Min("minimum"),
                  max=Max("maximum"))
        .order_by("t")
    )
    return [{"t": row["t"], "avg": row["weighted"] / row["samples"] if row["samples"] else None, "min": row["min"],
             "max": row["max"]} for row in days]


# Daily points straight from the covering index (an index-only scan in hour order). Plain SQL because the ORM's
# per-row datetime conversion of TruncDay costs more than the query itself for a year of series.
_DAILY_METRIC_SQL = (
    "SELECT date_trunc('day', hour, 'UTC'), SUM(average * count) / NULLIF(SUM(count), 0), MIN(minimum),"
    " MAX(maximum) FROM monitoring_metricrollup WHERE name = %s AND labels = %s AND hour >= %s AND hour <= %s"
    " GROUP BY 1 ORDER BY 1"
)
_DAILY_CHECK_SQL = (
    "SELECT date_trunc('day', hour, 'UTC'), SUM(ok_count), SUM(warning_count), SUM(critical_count)"
    " FROM monitoring_checkrollup WHERE check_name = %s AND host = %s AND hour >= %s AND hour <= %s"
    " GROUP BY 1 ORDER BY 1"
)


def _rows_as_dicts(sql: str, params: list, keys: list[str]) -> list[dict[str, Any]]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [dict(zip(keys, row, strict=True)) for row in cursor.fetchall()]


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
    """ok/warning/critical counts of one check per hour (up to 31 days) or per day (longer), from the rollups."""
    end = end or timezone.now()
    rows = CheckRollup.objects.filter(check_name=check_name, host=host, hour__gte=start, hour__lte=end)
    if _resolution(start, end) != "day":
        return [{"t": hour, "ok": ok, "warning": warning, "critical": critical}
                for hour, ok, warning, critical in rows.order_by("hour").values_list(
                    "hour", "ok_count", "warning_count", "critical_count")]
    if connection.vendor == "postgresql":
        return _rows_as_dicts(_DAILY_CHECK_SQL, [check_name, host, start, end], ["t", "ok", "warning", "critical"])
    days = (
        rows.annotate(t=TruncDay("hour"))
        .values("t")
        .annotate(ok=Sum("ok_count"), warning=Sum("warning_count"), critical=Sum("critical_count"))
        .order_by("t")
    )
    return [dict(row) for row in days]


_HOURLY_CHECKS_SQL = (
    "SELECT check_name, host, extract(epoch FROM hour)::bigint, ok_count, warning_count, critical_count"
    " FROM monitoring_checkrollup WHERE hour >= %s AND hour <= %s ORDER BY hour"
)


def check_status_all(*, start: datetime, end: datetime) -> dict[tuple[str, str], list[tuple[int, int, int, int]]]:
    """Every check's (epoch seconds, ok, warning, critical) per hour or day in the range, in one read.

    The timeline's reader: one query for all checks instead of one per check (17 checks over 30 days were 17
    queries and 12,000 datetimes built only to become numbers again).
    """
    found: dict[tuple[str, str], list[tuple[int, int, int, int]]] = {}
    if _resolution(start, end) == "hour" and connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(_HOURLY_CHECKS_SQL, [start, end])
            for name, host, at, ok, warning, critical in cursor.fetchall():
                found.setdefault((name, host), []).append((at, ok, warning, critical))
        # In hour order from the index; sorting by the text columns in the database cost 6x the scan (collation).
        return dict(sorted(found.items()))
    pairs = (CheckRollup.objects.filter(hour__gte=start, hour__lte=end).values_list("check_name", "host")
             .distinct().order_by("check_name", "host"))
    for name, host in pairs:
        found[(name, host)] = [(int(point["t"].timestamp()), point["ok"], point["warning"], point["critical"])
                               for point in check_status_history(check_name=name, host=host, start=start, end=end)]
    return found


def check_results_recent(*, check_name: str, limit: int = 60) -> list[CheckResultRow]:
    return list(CheckResultRow.objects.filter(check_name=check_name).order_by("-taken_at")[:limit])
