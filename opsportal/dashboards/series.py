"""Chart series of the history dashboard, built on monitoring's and performance's own readers.

Every chart is {id, title, unit, x: [epoch seconds], series: [{label, values, budget?}]}: the shape uPlot draws
(one shared x array, null where a series has no point). Metric charts read `monitoring.selectors.metric_points`,
so raw ranges are binned to the chart's width and long ranges read the rollups exactly as monitoring decided.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import connection
from django.db.models import FloatField, Max
from django.db.models.functions import Cast, TruncDay
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from monitoring.models import MetricDailyRollup, MetricRollup, MetricSample
from monitoring.selectors import BIN_ORIGIN, bin_start, daily_bounds, history_step, metric_points
from monitoring.selectors import _resolution as history_resolution  # one rule for every chart of a page
from performance.models import PerfResult, PerfRollup, PerfTarget, RequestRollup, RequestStat
from performance.request_rollups import BUCKET_COUNT, BUCKET_SUMS_SQL
from performance.timing import BUCKETS_MS, STATIC_ROUTE


@dataclass(frozen=True)
class MetricChart:
    id: str
    title: Promise
    unit: str  # "%", "bytes", "count", "ms": how the page formats the axis
    metric: str


METRIC_CHARTS = [
    MetricChart("cpu", _("CPU used"), "%", "cpu_percent"),
    MetricChart("memory", _("Memory used"), "%", "memory_used_percent"),
    MetricChart("disk", _("Disk used per path"), "%", "disk_used_percent"),
    MetricChart("db_connections", _("Database connections"), "count", "database_connections"),
    MetricChart("db_size", _("Database size"), "bytes", "database_size_bytes"),
    MetricChart("redis_memory", _("Redis memory"), "bytes", "redis_used_memory_bytes"),
    MetricChart("queues", _("Queue lengths"), "count", "celery_queue_length"),
    MetricChart("workers", _("Workers online"), "count", "celery_workers_online"),
]


def epoch(moment: datetime) -> int:
    return int(moment.timestamp())


def label_text(labels: str) -> str:
    """'host=web-1,path=/' -> 'web-1 /': the values say enough in a legend."""
    return " ".join(part.partition("=")[2] for part in labels.split(",") if part) or "—"


def align(series: list[Iterable[tuple[int, float | None]]]) -> tuple[list[int], list[list[float | None]]]:
    """One shared, sorted x array for several (t, value) lists; None where a series has no value at that t."""
    maps = [dict(points) for points in series]
    xs = sorted(set().union(*maps)) if maps else []
    return xs, [[values.get(x) for x in xs] for values in maps]


# A loose index scan: jump from one label set of the metric to the next through the (name, labels, hour) index,
# then keep those with a row in the range. A DISTINCT over a year of rollups read every row (27 ms vs 2 ms).
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


_LABEL_SOURCES = {  # resolution: (model, table, time column), the rows metric_points reads
    "raw": (MetricSample, "monitoring_metricsample", "taken_at"),
    "hour": (MetricRollup, "monitoring_metricrollup", "hour"),
    "day": (MetricDailyRollup, "monitoring_metricdailyrollup", "day"),
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
    model, table, column = _LABEL_SOURCES[resolution]
    if connection.vendor == "postgresql":
        sql = _LABELS_SQL.format(table=table, time=column)
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


def metric_charts(*, start: datetime, end: datetime) -> list[dict[str, Any]]:
    labels_by_metric = metric_labels(names=[chart.metric for chart in METRIC_CHARTS], start=start, end=end)
    charts = []
    for chart in METRIC_CHARTS:
        labels = labels_by_metric[chart.metric]
        points = [
            [(at, average) for at, average, _min, _max in metric_points(name=chart.metric, labels=label,
                                                                         start=start, end=end)]
            for label in labels
        ]
        xs, values = align(points)
        charts.append({
            "id": chart.id, "title": str(chart.title), "unit": chart.unit, "x": xs,
            "series": [{"label": label_text(label), "values": column} for label, column in zip(labels, values,
                                                                                                strict=True)],
        })
    return charts


def histogram_quantile(buckets: list[int], q: float, *, max_ms: float) -> float | None:
    """The q-quantile of a request histogram (per-bucket counts for BUCKETS_MS, then everything slower).

    Linear within the bucket that holds the rank, as Prometheus' histogram_quantile; never above the slowest
    request actually seen.
    """
    total = sum(buckets)
    if not total:
        return None
    rank = q * total
    cumulative, lower = 0, 0.0
    for index, count in enumerate(buckets):
        upper = BUCKETS_MS[index] if index < len(BUCKETS_MS) else max(max_ms, lower)
        if count and cumulative + count >= rank:
            return min(lower + (upper - lower) * (rank - cumulative) / count, max_ms)
        cumulative += count
        lower = upper
    return max_ms


# The per-bucket sums are the request rollup's own (performance.request_rollups): one SUM per bucket index.
_REQUEST_SQL = (
    "SELECT extract(epoch FROM date_bin(%(step)s, minute, %(origin)s))::bigint, MAX(max_ms), "  # noqa: S608
    + BUCKET_SUMS_SQL
    + " FROM performance_requeststat WHERE minute >= %(start)s AND minute <= %(end)s AND route <> %(static)s"
    " GROUP BY 1 ORDER BY 1"
)
_REQUEST_ROLLUP_SQL = (
    "SELECT extract(epoch FROM date_bin(%(step)s, hour, %(origin)s))::bigint, MAX(max_ms), "  # noqa: S608
    + BUCKET_SUMS_SQL
    + " FROM performance_requestrollup WHERE hour >= %(start)s AND hour <= %(end)s GROUP BY 1 ORDER BY 1"
)


def request_latency_p95(*, start: datetime, end: datetime) -> list[tuple[int, float | None]]:
    """p95 server time of real requests (static files left out), summed across routes, per `history_step`.

    Raw ranges read the per-minute rows (kept PERF_REQUEST_STAT_RETENTION); hour and day ranges the hourly
    rollups (kept a year), so a year is 8,760 rows rather than every minute of every route, plus the per-minute rows
    after the newest rollup (the newest hours, which the hourly task has not rolled up yet). The per-bucket sums
    happen in the database (one SUM per bucket index of the JSON array): one row per bin comes back.
    """
    step = history_step(start, end)
    if history_resolution(start, end) == "raw":
        bins = _request_bins(raw=True, start=start, end=end, step=step)
    else:
        bins = _request_bins(raw=False, start=start, end=end, step=step)
        newest = RequestRollup.objects.aggregate(Max("hour"))["hour__max"]
        tail_start = max(start, newest + timedelta(hours=1)) if newest else start
        if tail_start <= end:
            for at, (slowest, counts) in _request_bins(raw=True, start=tail_start, end=end, step=step).items():
                before, before_counts = bins.get(at, (0.0, [0] * BUCKET_COUNT))
                bins[at] = (max(before, slowest), [a + b for a, b in zip(before_counts, counts, strict=True)])
    return [(at, histogram_quantile(counts, 0.95, max_ms=slowest)) for at, (slowest, counts) in sorted(bins.items())]


def _request_bins(*, raw: bool, start: datetime, end: datetime, step: int) -> dict[int, tuple[float, list[int]]]:
    """bin -> (slowest request, per-bucket counts) from the per-minute rows (raw) or the hourly rollups."""
    bins: dict[int, tuple[float, list[int]]] = {}
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(_REQUEST_SQL if raw else _REQUEST_ROLLUP_SQL,
                           {"step": timedelta(seconds=step), "origin": BIN_ORIGIN, "start": start, "end": end,
                            "static": STATIC_ROUTE})
            for row in cursor.fetchall():
                counts = [int(count or 0) for count in row[2:]]
                bins[int(row[0])] = (float(row[1] or 0.0), counts + [0] * (BUCKET_COUNT - len(counts)))
        return bins
    if raw:
        rows = (RequestStat.objects.filter(minute__gte=start, minute__lte=end).exclude(route=STATIC_ROUTE)
                .order_by("minute").values_list("minute", "max_ms", "buckets"))
    else:
        rows = (RequestRollup.objects.filter(hour__gte=start, hour__lte=end).order_by("hour")
                .values_list("hour", "max_ms", "buckets"))
    for moment, slowest_here, buckets in rows:
        at = bin_start(moment, step)
        slowest, counts = bins.get(at, (0.0, [0] * BUCKET_COUNT))
        bins[at] = (max(slowest, slowest_here or 0.0),
                    [count + (buckets[index] if index < len(buckets) else 0) for index, count in enumerate(counts)])
    return bins


def request_latency_chart(*, start: datetime, end: datetime) -> dict[str, Any]:
    xs, values = align([request_latency_p95(start=start, end=end)])
    return {"id": "request_latency", "title": str(_("Request latency p95 (server time)")), "unit": "ms", "x": xs,
            "series": [{"label": str(_("all routes")), "values": values[0]}]}


_PROBE_RESULTS_SQL = (
    "SELECT extract(epoch FROM measured_at)::bigint, duration_ms FROM performance_perfresult"
    " WHERE target_id = %(target)s AND measured_at >= %(start)s AND measured_at <= %(end)s AND outcome = %(ok)s"
    " ORDER BY measured_at"
)
_PROBE_ROLLUPS_SQL = (
    "SELECT extract(epoch FROM date_bin(%(step)s, hour, %(origin)s))::bigint, MAX(p95_ms) FROM performance_perfrollup"
    " WHERE target_id = %(target)s AND hour >= %(start)s AND hour <= %(end)s GROUP BY 1 ORDER BY 1"
)


def probe_points(*, target: PerfTarget, start: datetime, end: datetime) -> list[tuple[int, float | None]]:
    """Each sample for short ranges; the hourly p95 of the rollups beyond; the worst hourly p95 of each day."""
    resolution = history_resolution(start, end)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(_PROBE_RESULTS_SQL if resolution == "raw" else _PROBE_ROLLUPS_SQL, {
                "target": target.pk, "start": start, "end": end, "ok": PerfResult.Outcome.OK.value,
                "step": timedelta(seconds=history_step(start, end)), "origin": BIN_ORIGIN})
            return cursor.fetchall()
    if resolution == "raw":
        rows = PerfResult.objects.filter(target=target, measured_at__gte=start, measured_at__lte=end,
                                         outcome=PerfResult.Outcome.OK).order_by("measured_at")
        return [(epoch(at), duration) for at, duration in rows.values_list("measured_at", "duration_ms")]
    rollups = PerfRollup.objects.filter(target=target, hour__gte=start, hour__lte=end)
    if resolution == "hour":
        return [(epoch(hour), p95) for hour, p95 in rollups.order_by("hour").values_list("hour", "p95_ms")]
    days = rollups.annotate(t=TruncDay("hour")).values("t").annotate(p95=Max(Cast("p95_ms", FloatField())))
    return [(epoch(row["t"]), row["p95"]) for row in days.order_by("t")]


def probe_chart(*, start: datetime, end: datetime) -> dict[str, Any]:
    """Each enabled target measured in the range: its p95 against a flat line at its budget."""
    measured = [(target, probe_points(target=target, start=start, end=end))
                for target in PerfTarget.objects.filter(enabled=True).order_by("name")]
    measured = [(target, points) for target, points in measured if points]
    targets = [target for target, _points in measured]
    xs, values = align([points for _target, points in measured])
    series = []
    for target, column in zip(targets, values, strict=True):
        series.append({"label": target.name, "values": column})
        series.append({"label": str(_("budget: %(name)s")) % {"name": target.name},
                       "values": [target.budget_ms] * len(xs), "budget": True})
    return {"id": "probes", "title": str(_("Probe timings against budget")), "unit": "ms", "x": xs,
            "series": series}


def history_charts(*, start: datetime, end: datetime) -> list[dict[str, Any]]:
    return [*metric_charts(start=start, end=end), request_latency_chart(start=start, end=end),
            probe_chart(start=start, end=end)]
