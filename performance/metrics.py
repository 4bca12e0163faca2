"""Prometheus metrics of the performance app, for the portal's metrics endpoint.

- `opsportal_http_request_duration_seconds` (histogram; route, method, status_class): the requests the web server
  answered since it started; buckets include 1 s and 3 s, the budgets. Every timed request is observed into a
  prometheus-client Histogram (performance/timing.py). Under gunicorn (PROMETHEUS_MULTIPROC_DIR set by
  gunicorn.conf.py) prometheus-client's MultiProcessCollector adds up the files of all workers of this host, dead
  ones included, so whichever worker answers the scrape reports the same, only-growing counts; in a single process
  (runserver, tests) the histogram is the process's own.
- `opsportal_perf_target_p95_seconds`, `opsportal_perf_target_budget_seconds`, `opsportal_perf_target_breached`,
  `opsportal_perf_target_up` (gauges; target, kind): read from the database at scrape time, so any web process
  reports the same values. The p95 is of successful samples only (absent without one); breached is 1 while the p95
  is over budget or the target is failing; up is 1 if the last probe round succeeded, 0 if it failed, absent
  before the first round.

The metrics endpoint calls `collect_performance_metrics()` (metric families to add to its own output) or
`render_performance_metrics()` (the text exposition alone). See docs/guides/performance.md.
"""

from __future__ import annotations

from collections.abc import Iterator

from django.conf import settings
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from performance.timing import REQUEST_HISTOGRAM, REQUEST_HISTOGRAM_HELP, REQUEST_HISTOGRAM_LABELS, get_aggregator


class PerformanceCollector(Collector):
    def collect(self) -> Iterator[Metric]:
        yield _request_histogram()
        yield from _target_gauges()


def _request_histogram() -> Metric:
    folder = settings.PROMETHEUS_MULTIPROC_DIR
    if folder is None:
        (metric,) = get_aggregator().histogram.collect()
        # `_created` (when each label set was first seen) is left out: the added-up files have none, so the two
        # outputs are alike.
        metric.samples = [sample for sample in metric.samples if not sample.name.endswith("_created")]
        return metric
    # Only our histogram: the folder would hold any other prometheus-client metric of these processes too.
    for metric in MultiProcessCollector(None, path=str(folder)).collect():
        if metric.name == REQUEST_HISTOGRAM:
            return metric
    return HistogramMetricFamily(REQUEST_HISTOGRAM, REQUEST_HISTOGRAM_HELP, labels=REQUEST_HISTOGRAM_LABELS)


def _target_gauges() -> Iterator[GaugeMetricFamily]:
    from performance.models import PerfTarget

    labels = ["target", "kind"]
    p95 = GaugeMetricFamily(
        "opsportal_perf_target_p95_seconds", "p95 of the target's samples over the budget window.", labels=labels
    )
    budget = GaugeMetricFamily("opsportal_perf_target_budget_seconds", "The target's budget.", labels=labels)
    breached = GaugeMetricFamily(
        "opsportal_perf_target_breached",
        "1 while the target's p95 exceeds its budget or its last probe round failed, else 0.",
        labels=labels,
    )
    up = GaugeMetricFamily(
        "opsportal_perf_target_up", "1 if the target's last probe round succeeded, 0 if it failed.", labels=labels
    )
    for target in PerfTarget.objects.filter(enabled=True).only(
        "name", "kind", "last_p95_ms", "budget_ms", "breached_since", "failing_since", "last_probed_at"
    ):
        label_values = [target.name, target.kind]
        if target.last_p95_ms is not None:
            p95.add_metric(label_values, target.last_p95_ms / 1000)
        budget.add_metric(label_values, target.budget_ms / 1000)
        breached.add_metric(label_values, 1 if target.breached_since or target.failing_since else 0)
        if target.is_up is not None:
            up.add_metric(label_values, 1 if target.is_up else 0)
    yield p95
    yield budget
    yield breached
    yield up


def collect_performance_metrics() -> list[Metric]:
    return list(PerformanceCollector().collect())


def render_performance_metrics() -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(PerformanceCollector())
    return generate_latest(registry)
