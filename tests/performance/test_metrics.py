"""The Prometheus exposition the metrics endpoint includes: request histograms and budget gauges."""

from __future__ import annotations

import pytest
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from performance.metrics import collect_performance_metrics, render_performance_metrics

pytestmark = pytest.mark.django_db


def samples_by_name(text: str) -> dict[str, list]:
    found: dict[str, list] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found.setdefault(sample.name, []).append(sample)
    return found


def test_request_histogram_has_buckets_at_the_budgets(client, aggregator):
    for _ in range(3):
        assert client.get("/api/system/health/live").status_code == 200
    aggregator.observe("reports/<int:pk>/", "GET", 200, 2.5)

    samples = samples_by_name(render_performance_metrics().decode())

    buckets = {
        (s.labels["route"], s.labels["le"]): s.value for s in samples["opsportal_http_request_duration_seconds_bucket"]
    }
    assert buckets[("api/system/health/live", "+Inf")] == 3
    assert buckets[("reports/<int:pk>/", "1.0")] == 0
    assert buckets[("reports/<int:pk>/", "3.0")] == 1
    counts = {s.labels["route"]: s.value for s in samples["opsportal_http_request_duration_seconds_count"]}
    assert counts["reports/<int:pk>/"] == 1


def test_breached_targets_are_a_gauge_for_alerting(make_target):
    make_target(name="fine", url="/a", last_p95_ms=120.0)
    make_target(name="too slow", url="/b", budget_ms=500, last_p95_ms=900.0, breached_since=timezone.now())

    samples = samples_by_name(render_performance_metrics().decode())

    breached = {s.labels["target"]: s.value for s in samples["opsportal_perf_target_breached"]}
    assert breached["fine"] == 0 and breached["too slow"] == 1
    p95 = {s.labels["target"]: s.value for s in samples["opsportal_perf_target_p95_seconds"]}
    assert p95["too slow"] == pytest.approx(0.9)
    assert {f.name for f in collect_performance_metrics()} >= {
        "opsportal_http_request_duration_seconds",
        "opsportal_perf_target_breached",
    }
