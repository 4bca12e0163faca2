from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext_noop

from monitoring.checks.base import CheckOutcome, check_outcome
from monitoring.history import utc_day
from monitoring.messages import Message
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
    WorkerHeartbeat,
)


def worker_heartbeats_recent(*, limit: int = 10) -> list[WorkerHeartbeat]:
    return list(WorkerHeartbeat.objects.order_by("-last_seen")[:limit])


def host_reports_current(*, exclude: str = "") -> list[CheckOutcome]:
    """The host checks each worker host last reported; a host gone silent is one 'host' warning instead."""
    now = timezone.now()
    stale = settings.MONITOR_WORKER_STALE
    results: list[CheckOutcome] = []
    for report in HostReport.objects.exclude(hostname=exclude).order_by("hostname"):
        age = now - report.reported_at
        if age > stale:
            results.append(check_outcome(
                "host", Status.WARNING, Message(gettext_noop("no report from this host for %(minutes)d min"),
                                                {"minutes": int(age.total_seconds() // 60)}),
                host=report.hostname, critical=False, values={"reported_at": report.reported_at.isoformat()},
            ))
            continue
        for item in report.results:
            result = CheckOutcome.from_dict(item)
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
_DAILY_METRIC_SQL = (
    "SELECT extract(epoch FROM day)::bigint, average, minimum, maximum FROM monitoring_metricdailyrollup"
    " WHERE name = %(name)s AND labels = %(labels)s AND day >= %(start)s AND day <= %(end)s ORDER BY day"
)


def bin_start(moment: datetime, step: int) -> int:
    """Epoch seconds of the `step`-second bin `moment` falls in: what date_bin(step, moment, BIN_ORIGIN) gives
    (for the portable paths, where the database does not bin)."""
    return int(moment.timestamp() // step * step)


def metric_points(*, name: str, labels: str = "", start: datetime, end: datetime,
                  ) -> list[tuple[int, float, float, float]]:
    """(epoch seconds, avg, min, max) of one series, one point per `history_step` (the chart's own reader).

    Raw ranges are binned in the database (a day is 288 five-minute points, not 1,440 rows to send and convert);
    longer ones read the rollups. Epoch seconds straight from PostgreSQL: building a datetime per row only to turn
    it back into a number cost more than the query.
    """
    points = _metric_points_stored(name=name, labels=labels, start=start, end=end)
    if _resolution(start, end) == "raw":
        return points
    # Rollups are written once an hour (daily rows from them): the newest hours, or a portal whose rollup task
    # has not run yet, would show nothing in a 7-day or 1-year range while the 1-hour range shows them.
    newest = points[-1][0] if points else None
    return points + [point for point in _metric_tail(name=name, labels=labels, start=start, end=end)
                     if newest is None or point[0] > newest]


def _metric_tail(*, name: str, labels: str, start: datetime, end: datetime) -> list[tuple[int, float, float, float]]:
    """Points of a long range's bins that its rollups do not hold yet: hourly rollups after the newest daily row
    (daily ranges), raw samples after the newest hourly rollup, binned like the rollups (count-weighted)."""
    step = history_step(start, end)
    bins: dict[int, list[float]] = {}  # bin -> [count, sum, min, max]

    def add(at: int, count: int, average: float, minimum: float, maximum: float) -> None:
        found = bins.setdefault(at, [0, 0.0, minimum, maximum])
        found[0] += count
        found[1] += average * count
        found[2], found[3] = min(found[2], minimum), max(found[3], maximum)

    newest_hour = MetricRollup.objects.filter(name=name, labels=labels).aggregate(Max("hour"))["hour__max"]
    if step == _STEP["day"]:
        newest_day = MetricDailyRollup.objects.filter(name=name, labels=labels).aggregate(Max("day"))["day__max"]
        hourly_from = max(start, newest_day + timedelta(days=1)) if newest_day else start
        for hour, count, average, minimum, maximum in MetricRollup.objects.filter(
                name=name, labels=labels, hour__gte=hourly_from, hour__lte=end).values_list(
                "hour", "count", "average", "minimum", "maximum"):
            add(bin_start(hour, step), count, average, minimum, maximum)
    raw_from = max(start, newest_hour + timedelta(hours=1)) if newest_hour else start
    samples = MetricSample.objects.filter(name=name, labels=labels, taken_at__gte=raw_from, taken_at__lte=end)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT extract(epoch FROM date_bin(%(step)s, taken_at, %(origin)s))::bigint, count(*), AVG(value),"
                " MIN(value), MAX(value) FROM monitoring_metricsample WHERE name = %(name)s AND labels = %(labels)s"
                " AND taken_at >= %(start)s AND taken_at <= %(end)s GROUP BY 1",
                {"step": timedelta(seconds=step), "origin": BIN_ORIGIN, "name": name, "labels": labels,
                 "start": raw_from, "end": end})
            for at, count, average, minimum, maximum in cursor.fetchall():
                add(int(at), count, average, minimum, maximum)
    else:
        for taken_at, value in samples.values_list("taken_at", "value"):
            add(bin_start(taken_at, step), 1, value, value, value)
    return [(at, total / count, minimum, maximum) for at, (count, total, minimum, maximum) in sorted(bins.items())]


def _metric_points_stored(*, name: str, labels: str, start: datetime, end: datetime,
                          ) -> list[tuple[int, float, float, float]]:
    resolution, step = _resolution(start, end), history_step(start, end)
    params = {"name": name, "labels": labels, "start": start, "end": end}
    if resolution == "day":
        params["start"], params["end"] = daily_bounds(start, end)
    if connection.vendor == "postgresql":
        sql = {"raw": _RAW_METRIC_SQL, "hour": _HOURLY_METRIC_SQL, "day": _DAILY_METRIC_SQL}[resolution]
        with connection.cursor() as cursor:
            cursor.execute(sql, {**params, "step": timedelta(seconds=step), "origin": BIN_ORIGIN})
            return cursor.fetchall()
    if resolution == "hour":
        rows = MetricRollup.objects.filter(name=name, labels=labels, hour__gte=start, hour__lte=end)
        return [(int(hour.timestamp()), average, minimum, maximum) for hour, average, minimum, maximum
                in rows.order_by("hour").values_list("hour", "average", "minimum", "maximum")]
    if resolution == "day":
        days = MetricDailyRollup.objects.filter(name=name, labels=labels, day__gte=params["start"],
                                                day__lte=params["end"])
        return [(int(day.timestamp()), average, minimum, maximum) for day, average, minimum, maximum
                in days.order_by("day").values_list("day", "average", "minimum", "maximum")]
    bins: dict[int, list[float]] = {}
    samples = MetricSample.objects.filter(name=name, labels=labels, taken_at__gte=start, taken_at__lte=end)
    for taken_at, value in samples.order_by("taken_at").values_list("taken_at", "value"):
        bins.setdefault(bin_start(taken_at, step), []).append(value)
    return [(at, sum(values) / len(values), min(values), max(values)) for at, values in bins.items()]


def metric_series(*, name: str, labels: str = "", start: datetime, end: datetime | None = None,
                  ) -> list[dict[str, Any]]:
    """Points {t, min, avg, max} of one metric series at a resolution a chart can draw.

    Short ranges read raw samples, binned to `history_step` (one minute up to 12 hours, five minutes up to two
    days); up to 31 days the hourly rollups, longer ones the daily rollups: a year is 365 rows from one index-only
    range scan. A daily point (t = UTC midnight) covers its whole UTC day, so the first point is the whole day
    `start` falls in (see daily_bounds).
    """
    end = end or timezone.now()
    return [{"t": datetime.fromtimestamp(at, tz=UTC), "avg": average, "min": minimum, "max": maximum}
            for at, average, minimum, maximum in metric_points(name=name, labels=labels, start=start, end=end)]


def daily_bounds(start: datetime, end: datetime) -> tuple[datetime, datetime]:
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
    first, last = daily_bounds(start, end)
    days = CheckDailyRollup.objects.filter(check_name=check_name, host=host, day__gte=first, day__lte=last)
    return [{"t": day, "ok": ok, "warning": warning, "critical": critical}
            for day, ok, warning, critical in days.order_by("day").values_list(
                "day", "ok_count", "warning_count", "critical_count")]


_CHECKS_SQL = {
    "hour": "SELECT check_name, host, extract(epoch FROM hour)::bigint, ok_count, warning_count, critical_count"
            " FROM monitoring_checkrollup WHERE hour >= %s AND hour <= %s ORDER BY hour",
    "day": "SELECT check_name, host, extract(epoch FROM day)::bigint, ok_count, warning_count, critical_count"
           " FROM monitoring_checkdailyrollup WHERE day >= %s AND day <= %s ORDER BY day",
}


def check_status_all(*, start: datetime, end: datetime) -> dict[tuple[str, str], list[tuple[int, int, int, int]]]:
    """Every check's (epoch seconds, ok, warning, critical) per hour (up to 31 days) or UTC day, in one read.

    The timeline's reader: one query for all checks instead of one per check (17 checks over 30 days were 17
    queries and 12,000 datetimes built only to become numbers again). Sorted by (check, host) here: in the
    database, sorting by the text columns cost six times the scan (collation).
    """
    resolution = "day" if _resolution(start, end) == "day" else "hour"
    if resolution == "day":
        start, end = daily_bounds(start, end)
    found: dict[tuple[str, str], list[tuple[int, int, int, int]]] = {}
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(_CHECKS_SQL[resolution], [start, end])
            rows = cursor.fetchall()
    else:
        model, column = (CheckDailyRollup, "day") if resolution == "day" else (CheckRollup, "hour")
        rows = [(name, host, int(at.timestamp()), ok, warning, critical)
                for name, host, at, ok, warning, critical in model.objects.filter(
                    **{f"{column}__gte": start, f"{column}__lte": end}).order_by(column).values_list(
                    "check_name", "host", column, "ok_count", "warning_count", "critical_count")]
    for name, host, at, ok, warning, critical in rows:
        found.setdefault((name, host), []).append((at, ok, warning, critical))
    # The newest hours the rollups do not hold yet (disjoint from them, so their counts add up).
    step = _STEP[resolution]
    for (name, host), tail in _check_tail(start=start, end=end, step=step).items():
        points = {at: counts for at, *counts in found.get((name, host), [])}
        for at, counts in tail.items():
            before = points.get(at, [0, 0, 0])
            points[at] = [a + b for a, b in zip(before, counts, strict=True)]
        found[(name, host)] = [(at, *points[at]) for at in sorted(points)]
    return dict(sorted(found.items()))


_RAW_CHECKS_SQL = (
    "SELECT check_name, host, extract(epoch FROM date_bin(%(step)s, taken_at, %(origin)s))::bigint,"
    " count(*) FILTER (WHERE status = 'ok'), count(*) FILTER (WHERE status = 'warning'),"
    " count(*) FILTER (WHERE status = 'critical') FROM monitoring_checkresult"
    " WHERE taken_at >= %(start)s AND taken_at <= %(end)s GROUP BY 1, 2, 3"
)


def _check_tail(*, start: datetime, end: datetime, step: int) -> dict[tuple[str, str], dict[int, list[int]]]:
    """ok/warning/critical counts per bin the check rollups do not hold yet: hourly rows after the newest daily row
    (daily ranges), raw results after the newest hourly rollup."""
    bins: dict[tuple[str, str], dict[int, list[int]]] = {}

    def add(name: str, host: str, at: int, counts: tuple[int, int, int]) -> None:
        found = bins.setdefault((name, host), {}).setdefault(at, [0, 0, 0])
        for index, count in enumerate(counts):
            found[index] += count

    newest_hour = CheckRollup.objects.aggregate(Max("hour"))["hour__max"]
    if step == _STEP["day"]:
        newest_day = CheckDailyRollup.objects.aggregate(Max("day"))["day__max"]
        hourly_from = max(start, newest_day + timedelta(days=1)) if newest_day else start
        for name, host, hour, ok, warning, critical in CheckRollup.objects.filter(
                hour__gte=hourly_from, hour__lte=end).values_list(
                "check_name", "host", "hour", "ok_count", "warning_count", "critical_count"):
            add(name, host, bin_start(hour, step), (ok, warning, critical))
    raw_from = max(start, newest_hour + timedelta(hours=1)) if newest_hour else start
    if raw_from > end:
        return bins
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(_RAW_CHECKS_SQL, {"step": timedelta(seconds=step), "origin": BIN_ORIGIN,
                                             "start": raw_from, "end": end})
            for name, host, at, ok, warning, critical in cursor.fetchall():
                add(name, host, int(at), (ok, warning, critical))
        return bins
    index = {Status.OK: 0, Status.WARNING: 1, Status.CRITICAL: 2}
    for name, host, taken_at, status in CheckResult.objects.filter(
            taken_at__gte=raw_from, taken_at__lte=end).values_list("check_name", "host", "taken_at", "status"):
        counts = [0, 0, 0]
        counts[index[Status(status)]] = 1
        add(name, host, bin_start(taken_at, step), tuple(counts))
    return bins


def check_results_recent(*, check_name: str, limit: int = 60) -> list[CheckResult]:
    return list(CheckResult.objects.filter(check_name=check_name).order_by("-taken_at")[:limit])
