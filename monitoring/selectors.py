from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.models import Avg, Case, Count, FloatField, Max, Min, Q, Value, When
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext_noop

from monitoring.checks.base import CheckOutcome, check_outcome
from monitoring.history import utc_day
from monitoring.messages import Message
from monitoring.models import (
    SEVERITY,
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
from monitoring.sqlread import SqlRead, read_alone
from opsportal.lib.timebins import EpochBin, bin_start, rows


def worker_heartbeats_recent(*, limit: int = 10) -> list[WorkerHeartbeat]:
    return list(WorkerHeartbeat.objects.order_by("-last_seen")[:limit])


def host_reports_current(*, exclude: str = "") -> list[CheckOutcome]:
    """The host checks each worker host last reported; a host gone silent is one 'host' warning instead."""
    read = host_reports_read(exclude=exclude)
    if read is not None:
        return read_alone(read)  # type: ignore[return-value]
    return _host_outcomes((report.hostname, report.reported_at, report.results)
                          for report in HostReport.objects.exclude(hostname=exclude).order_by("hostname"))


def host_reports_read(*, exclude: str = "") -> SqlRead | None:
    """host_reports_current() on PostgreSQL as one read (monitoring/sqlread.py) the health runner shares with the
    database checks: every report as one JSON array, decoded once (the ORM decoded each row's JSON on its own)."""
    if connection.vendor != "postgresql":
        return None
    table = connection.ops.quote_name(HostReport._meta.db_table)
    sql = (f"(SELECT json_agg(json_build_array(hostname, reported_at, results) ORDER BY hostname)"  # noqa: S608
           f" FROM {table} WHERE hostname <> %s)")

    def finish(row: tuple, _seconds: float) -> list[CheckOutcome]:
        found = row[0]
        if isinstance(found, str):
            found = json.loads(found)
        return _host_outcomes((hostname, parse_datetime(at), results) for hostname, at, results in found or [])

    return SqlRead(connection.alias, [sql], finish, [exclude])


def _host_outcomes(reports) -> list[CheckOutcome]:
    now = timezone.now()
    stale = settings.MONITOR_WORKER_STALE
    results: list[CheckOutcome] = []
    for hostname, reported_at, items in reports:
        age = now - reported_at
        if age > stale:
            results.append(check_outcome(
                "host", Status.WARNING, Message(gettext_noop("no report from this host for %(minutes)d min"),
                                                {"minutes": int(age.total_seconds() // 60)}),
                host=hostname, critical=False, values={"reported_at": reported_at.isoformat()},
            ))
            continue
        for item in items:
            result = CheckOutcome.from_dict(item)
            result.host = hostname
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


def history_resolution(start: datetime, end: datetime) -> str:
    """The resolution every chart of one page reads for [start, end]: one rule, shared with the dashboards.

    raw minutes up to two days (inside the raw retention), hours up to 31 days, days beyond: at most ~750 points."""
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
    resolution = history_resolution(start, end)
    if resolution != "raw":
        return _STEP[resolution]
    span = (end - start).total_seconds()
    return next((step for step in RAW_STEPS if span <= MAX_POINTS * step), RAW_STEPS[-1])


def metric_points(*, name: str, labels: str = "", start: datetime, end: datetime,
                  ) -> list[tuple[int, float, float, float]]:
    """(epoch seconds, avg, min, max) of one series, one point per `history_step` (the chart's own reader).

    Raw ranges are binned in the database (a day is 288 five-minute points, not 1,440 rows to send and convert);
    longer ones read the rollups. Epoch seconds straight from PostgreSQL: building a datetime per row only to turn
    it back into a number cost more than the query.
    """
    points = _metric_points_stored(name=name, labels=labels, start=start, end=end)
    if history_resolution(start, end) == "raw":
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
    binned = samples.annotate(at=EpochBin("taken_at", step)).values("at").annotate(
        count=Count("id"), average=Avg("value"), minimum=Min("value"), maximum=Max("value"))
    for at, count, average, minimum, maximum in rows(binned, "at", "count", "average", "minimum", "maximum"):
        add(at, count, average, minimum, maximum)
    return [(at, total / count, minimum, maximum) for at, (count, total, minimum, maximum) in sorted(bins.items())]


def _metric_points_stored(*, name: str, labels: str, start: datetime, end: datetime,
                          ) -> list[tuple[int, float, float, float]]:
    resolution, step = history_resolution(start, end), history_step(start, end)
    if resolution == "hour":
        hours = MetricRollup.objects.filter(name=name, labels=labels, hour__gte=start, hour__lte=end).order_by("hour")
        return rows(hours.annotate(at=EpochBin("hour")), "at", "average", "minimum", "maximum")
    if resolution == "day":
        first, last = daily_bounds(start, end)
        days = MetricDailyRollup.objects.filter(name=name, labels=labels, day__gte=first, day__lte=last)
        return rows(days.order_by("day").annotate(at=EpochBin("day")), "at", "average", "minimum", "maximum")
    samples = MetricSample.objects.filter(name=name, labels=labels, taken_at__gte=start, taken_at__lte=end)
    return rows(samples.annotate(at=EpochBin("taken_at", step)).values("at").annotate(
        average=Avg("value"), minimum=Min("value"), maximum=Max("value")).order_by("at"),
        "at", "average", "minimum", "maximum")


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
    if history_resolution(start, end) != "day":
        rows = CheckRollup.objects.filter(check_name=check_name, host=host, hour__gte=start, hour__lte=end)
        return [{"t": hour, "ok": ok, "warning": warning, "critical": critical}
                for hour, ok, warning, critical in rows.order_by("hour").values_list(
                    "hour", "ok_count", "warning_count", "critical_count")]
    first, last = daily_bounds(start, end)
    days = CheckDailyRollup.objects.filter(check_name=check_name, host=host, day__gte=first, day__lte=last)
    return [{"t": day, "ok": ok, "warning": warning, "critical": critical}
            for day, ok, warning, critical in days.order_by("day").values_list(
                "day", "ok_count", "warning_count", "critical_count")]


def check_status_all(*, start: datetime, end: datetime) -> dict[tuple[str, str], list[tuple[int, int, int, int]]]:
    """Every check's (epoch seconds, ok, warning, critical) per hour (up to 31 days) or UTC day, in one read.

    The timeline's reader: one query for all checks instead of one per check (17 checks over 30 days were 17
    queries and 12,000 datetimes built only to become numbers again). Sorted by (check, host) here: in the
    database, sorting by the text columns cost six times the scan (collation).
    """
    resolution = "day" if history_resolution(start, end) == "day" else "hour"
    if resolution == "day":
        start, end = daily_bounds(start, end)
    found: dict[tuple[str, str], list[tuple[int, int, int, int]]] = {}
    model, column = (CheckDailyRollup, "day") if resolution == "day" else (CheckRollup, "hour")
    stored = model.objects.filter(**{f"{column}__gte": start, f"{column}__lte": end}).order_by(column)
    found_rows = rows(stored.annotate(at=EpochBin(column)), "check_name", "host", "at", "ok_count", "warning_count",
                      "critical_count")
    for name, host, at, ok, warning, critical in found_rows:
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
    for name, host, at, ok, warning, critical in _check_counts_binned(start=raw_from, end=end, step=step):
        add(name, host, at, (ok, warning, critical))
    return bins


def _check_counts_binned(*, start: datetime, end: datetime, step: int):
    """(check, host, bin start, ok, warning, critical) of the raw results per `step` seconds."""
    return rows(CheckResult.objects.filter(taken_at__gte=start, taken_at__lte=end).annotate(
        at=EpochBin("taken_at", step)).values("check_name", "host", "at").annotate(
        ok=Count("id", filter=Q(status=Status.OK)), warning=Count("id", filter=Q(status=Status.WARNING)),
        critical=Count("id", filter=Q(status=Status.CRITICAL))),
        "check_name", "host", "at", "ok", "warning", "critical")


def check_results_recent(*, check_name: str, limit: int = 60) -> list[CheckResult]:
    return list(CheckResult.objects.filter(check_name=check_name).order_by("-taken_at")[:limit])


def check_bands_binned(*, start: datetime, end: datetime, step: int) -> list[tuple[str, str, int, int, float]]:
    """(check, host, bin start, worst severity, share of results not ok) per `step` seconds of the raw results, in
    time order: a day of 17 checks is 24,000 rows, binned to five minutes 4,900. Severity as in SEVERITY."""
    worst = Max(Case(*[When(status=status, then=Value(severity)) for status, severity in SEVERITY.items()]))
    not_ok = Avg(Case(When(status=Status.OK, then=Value(0.0)), default=Value(1.0), output_field=FloatField()))
    binned = CheckResult.objects.filter(taken_at__gte=start, taken_at__lte=end).annotate(
        at=EpochBin("taken_at", step)).values("check_name", "host", "at").annotate(worst=worst, not_ok=not_ok)
    # By time only: sorting by the text columns costs more (collation).
    return [(name, host, at, worst, float(share)) for name, host, at, worst, share in rows(
        binned.order_by("at"), "check_name", "host", "at", "worst", "not_ok")]


def rollups_newest() -> tuple[datetime | None, datetime | None]:
    """The newest hourly metric rollup and check rollup: a new one means the long ranges read new rows."""
    return (MetricRollup.objects.order_by("-hour").values_list("hour", flat=True).first(),
            CheckRollup.objects.order_by("-hour").values_list("hour", flat=True).first())


# A loose index scan: jump from one label set of the metric to the next through the (name, labels, time) index,
# then keep those with a row in the range. A DISTINCT over a year of rollups read every row (27 ms vs 2 ms). Not a
# time bucket: SQLite reads the same answer with the DISTINCT below.
_LABELS_SQL = """
WITH RECURSIVE found(labels) AS (
    (SELECT labels FROM {table} WHERE name = %(name)s ORDER BY labels LIMIT 1)
    UNION ALL
    SELECT (SELECT labels FROM {table} WHERE name = %(name)s AND labels > found.labels ORDER BY labels LIMIT 1)
    FROM found WHERE found.labels IS NOT NULL
)
SELECT labels FROM found WHERE labels IS NOT NULL AND EXISTS (
    SELECT 1 FROM {table} WHERE name = %(name)s AND labels = found.labels AND {time} >= %(start)s
    AND {time} <= %(end)s)
ORDER BY labels
"""
_LABEL_SOURCES = {  # resolution: (model, time column), the rows metric_points reads
    "raw": (MetricSample, "taken_at"),
    "hour": (MetricRollup, "hour"),
    "day": (MetricDailyRollup, "day"),
}


def metric_labels(*, names: list[str], start: datetime, end: datetime) -> dict[str, list[str]]:
    """The label sets each metric had in the range (one disk path, one host, one queue per series), also those seen
    only in the raw samples the rollups do not hold yet (the newest hours a long range shows from them)."""
    resolution = history_resolution(start, end)
    found = _metric_labels_in(names=names, resolution=resolution, start=start, end=end)
    if resolution != "raw":
        newest = MetricRollup.objects.aggregate(Max("hour"))["hour__max"]
        tail_start = max(start, newest + timedelta(hours=1)) if newest else start
        if tail_start <= end:
            tail = _metric_labels_in(names=names, resolution="raw", start=tail_start, end=end)
            found = {name: sorted(set(found[name]) | set(tail[name])) for name in names}
    return found


def _metric_labels_in(*, names: list[str], resolution: str, start: datetime, end: datetime) -> dict[str, list[str]]:
    if resolution == "day":
        start, end = daily_bounds(start, end)  # the daily rows metric_points reads
    model, column = _LABEL_SOURCES[resolution]
    if connection.vendor == "postgresql":
        sql = _LABELS_SQL.format(table=connection.ops.quote_name(model._meta.db_table), time=column)
        with connection.cursor() as cursor:
            found = {}
            for name in names:
                cursor.execute(sql, {"name": name, "start": start, "end": end})
                found[name] = [row[0] for row in cursor.fetchall()]
            return found
    rows = model.objects.filter(name__in=names, **{f"{column}__gte": start, f"{column}__lte": end})
    found: dict[str, list[str]] = {name: [] for name in names}
    for name, labels in rows.values_list("name", "labels").distinct().order_by("name", "labels"):
        found[name].append(labels)
    return found


def check_bands(*, start: datetime, end: datetime) -> dict[tuple[str, str], list[list]]:
    """Per (check, host), sorted: [t, worst severity in the bin, share of results not ok] bands; severity as in
    SEVERITY (0 ok, 1 warning, 2 critical), None for a bin without results.

    Up to two days from the raw results (the current hour has no rollup yet), one band per `history_step`; beyond,
    one per hour or UTC day from the rollups (`check_status_all`).
    """
    bands: dict[tuple[str, str], list[list]] = {}
    if history_resolution(start, end) == "raw":
        for name, host, at, worst, share in check_bands_binned(start=start, end=end, step=history_step(start, end)):
            bands.setdefault((name, host), []).append([at, worst, round(share, 4)])
        return dict(sorted(bands.items()))
    for key, points in check_status_all(start=start, end=end).items():
        bands[key] = [_band(at, ok, warning, critical) for at, ok, warning, critical in points]
    return bands


def _band(at: int, ok: int, warning: int, critical: int) -> list:
    total = ok + warning + critical
    worst = SEVERITY[Status.CRITICAL] if critical else SEVERITY[Status.WARNING] if warning else SEVERITY[Status.OK]
    return [at, worst if total else None, round((warning + critical) / total, 4) if total else 0]
