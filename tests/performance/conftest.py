from __future__ import annotations

from collections.abc import Iterator

import pytest

from performance.models import PerfTarget
from performance.signals import budget_breached, budget_recovered
from performance.timing import RequestTimingAggregator, get_aggregator


@pytest.fixture
def portal(live_server, settings):
    """The portal and the test-only views served by a real threaded HTTP server on a loopback port."""
    settings.ROOT_URLCONF = "tests.performance.urls"
    settings.PERF_BASE_URL = live_server.url
    return live_server


@pytest.fixture
def aggregator() -> Iterator[RequestTimingAggregator]:
    """The process's aggregator, emptied before and after so each test sees only its own requests."""
    shared = get_aggregator()

    def forget() -> None:
        shared.take(include_current=True)
        shared.histogram.clear()
        shared._children.clear()

    forget()
    yield shared
    forget()


def histogram_counts(aggregator: RequestTimingAggregator) -> dict[tuple[str, str, str], float]:
    """The Prometheus histogram's request count per (route, method, status class)."""
    (metric,) = aggregator.histogram.collect()
    return {
        (s.labels["route"], s.labels["method"], s.labels["status_class"]): s.value
        for s in metric.samples
        if s.name.endswith("_count")
    }


@pytest.fixture
def make_target(db):
    def make(**fields) -> PerfTarget:
        fields.setdefault("name", f"target {PerfTarget.objects.count() + 1}")
        fields.setdefault("samples", 2)
        return PerfTarget.objects.create(**fields)

    return make


@pytest.fixture
def budget_signals() -> Iterator[list[tuple[str, dict]]]:
    received: list[tuple[str, dict]] = []

    def on_breach(sender, **kwargs):
        received.append(("breached", kwargs))

    def on_recovery(sender, **kwargs):
        received.append(("recovered", kwargs))

    budget_breached.connect(on_breach)
    budget_recovered.connect(on_recovery)
    yield received
    budget_breached.disconnect(on_breach)
    budget_recovered.disconnect(on_recovery)
