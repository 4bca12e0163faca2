"""Prometheus metrics of the performance app, for the portal's metrics endpoint.

- `opsportal_http_request_duration_seconds` (histogram; route, method, status_class): this process's requests
  since it started, from the timing middleware's aggregator; buckets include 1 s and 3 s, the budgets.
- `opsportal_perf_target_p95_seconds`, `opsportal_perf_target_budget_seconds`, `opsportal_perf_target_breached`
  (gauges; target, kind): read from the database at scrape time, so any web process reports the same values.

The metrics endpoint calls `collect_performance_metrics()` (metric families to add to its own output) or
`render_performance_metrics()` (the text exposition alone). Under gunicorn every worker process has its own
request histogram; Prometheus sees the one that answered the scrape (see docs/guides/performance.md).
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

from performance.timing import BUCKETS_MS, get_aggregator


class PerformanceCollector(Collector):
    def collect(self) -> Iterator[Metric]:
        yield _request_histogram()
        yield from _target_gauges()


def _request_histogram() -> HistogramMetricFamily:
    family = HistogramMetricFamily(
        "opsportal_http_request_duration_seconds",
        "Server time of requests by route pattern, method and status class (this process since start).",
        labels=["route", "method", "status_class"],
    )
    bounds = [floatToGoString(ms / 1000) for ms in BUCKETS_MS] + ["+Inf"]  # "1.0", as Histogram writes it
    for (route, method, status_class), bucket in sorted(get_aggregator().snapshot_totals().items()):
        cumulative, running = [], 0
        for bound, count in zip(bounds, bucket.buckets, strict=True):
            running += count
            cumulative.append((bound, running))
        family.add_metric([route, method, status_class], cumulative, bucket.sum_ms / 1000)
    return family


def _target_gauges() -> Iterator[GaugeMetricFamily]:
    from performance.models import PerfTarget

    labels = ["target", "kind"]
    p95 = GaugeMetricFamily(
        "opsportal_perf_target_p95_seconds", "p95 of the target's samples over the budget window.", labels=labels
    )
    budget = GaugeMetricFamily("opsportal_perf_target_budget_seconds", "The target's budget.", labels=labels)
    breached = GaugeMetricFamily(
        "opsportal_perf_target_breached", "1 while the target's p95 exceeds its budget, else 0.", labels=labels
    )
    for name, kind, last_p95_ms, budget_ms, breached_since in PerfTarget.objects.filter(enabled=True).values_list(
        "name", "kind", "last_p95_ms", "budget_ms", "breached_since"
    ):
        if last_p95_ms is not None:
            p95.add_metric([name, kind], last_p95_ms / 1000)
        budget.add_metric([name, kind], budget_ms / 1000)
        breached.add_metric([name, kind], 1 if breached_since else 0)
    yield p95
    yield budget
    yield breached


def collect_performance_metrics() -> list[Metric]:
    return list(PerformanceCollector().collect())


def render_performance_metrics() -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(PerformanceCollector())
    return generate_latest(registry)
