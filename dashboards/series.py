"""Chart series of the history dashboard, built on monitoring's and performance's public selectors.

Every chart is {id, title, unit, x: [epoch seconds], series: [{label, values, budget?}]}: the shape uPlot draws
(one shared x array, null where a series has no point). Metric charts read `monitoring.selectors.metric_points`,
so raw ranges are binned to the chart's width and long ranges read the rollups exactly as monitoring decided; every
chart of a page reads at monitoring's `history_resolution`, one rule for all.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from monitoring.selectors import history_resolution, history_step, metric_labels, metric_points
from performance.selectors import perf_targets_enabled, probe_points
from performance.selectors import request_latency_p95 as request_latency_binned


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


def request_latency_p95(*, start: datetime, end: datetime) -> list[tuple[int, float | None]]:
    """p95 server time of real requests per point of the page's charts (performance reads, monitoring's steps)."""
    return request_latency_binned(start=start, end=end, step=history_step(start, end),
                                  from_rollups=history_resolution(start, end) != "raw")


def request_latency_chart(*, start: datetime, end: datetime) -> dict[str, Any]:
    xs, values = align([request_latency_p95(start=start, end=end)])
    return {"id": "request_latency", "title": str(_("Request latency p95 (server time)")), "unit": "ms", "x": xs,
            "series": [{"label": str(_("all routes")), "values": values[0]}]}


def probe_chart(*, start: datetime, end: datetime) -> dict[str, Any]:
    """Each enabled target measured in the range: its p95 against a flat line at its budget."""
    step, from_rollups = history_step(start, end), history_resolution(start, end) != "raw"
    measured = [(target, probe_points(target=target, start=start, end=end, step=step, from_rollups=from_rollups))
                for target in perf_targets_enabled()]
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
