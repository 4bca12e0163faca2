"""Metrics as JSON or as the Prometheus text format, rendered by prometheus-client (not by hand)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from monitoring.checks.base import MetricValue
from opsportal.lib.registry import Registry, autodiscover

PREFIX = "opsportal_"


class _SamplesCollector:
    def __init__(self, samples: Iterable[MetricValue]) -> None:
        self.samples = list(samples)

    def collect(self) -> Iterator[Metric]:
        families: dict[str, GaugeMetricFamily] = {}
        label_names: dict[str, list[str]] = {}
        for sample in self.samples:
            name = PREFIX + sample.name
            if name not in families:
                label_names[name] = sorted(sample.labels)
                families[name] = GaugeMetricFamily(name, sample.help or sample.name, labels=label_names[name])
            keys = label_names[name]
            families[name].add_metric([str(sample.labels.get(key, "")) for key in keys], float(sample.value))
        yield from families.values()


COLLECTORS: Registry[Callable[[], Collector]] = Registry("metric collector")


def register_collector(factory: Callable[[], Collector]) -> Callable[[], Collector]:
    """Add a prometheus-client collector to /api/system/metrics (from another app's health.py, or its ready())."""
    return COLLECTORS.register(factory)


def collect_registered() -> list[Metric]:
    """Every registered collector's metric families. They may read the database (the performance targets): the
    metrics view calls this on the checks' database pool (monitoring/pool.py), never on the request's thread."""
    autodiscover("health")
    return [family for factory in COLLECTORS for family in factory().collect()]


def prometheus_text(samples: Iterable[MetricValue], families: Iterable[Metric]) -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_SamplesCollector(samples))
    registry.register(_Collected(list(families)))
    return generate_latest(registry)


def samples_json(samples: Iterable[MetricValue], families: Iterable[Metric]) -> list[dict]:
    found = [{"name": sample.name, "labels": sample.labels, "value": sample.value} for sample in samples]
    for family in families:
        found.extend(
            {"name": s.name.removeprefix(PREFIX), "labels": dict(s.labels), "value": s.value} for s in family.samples
        )
    return found


class _Collected:
    def __init__(self, families: list[Metric]) -> None:
        self.families = families

    def collect(self) -> Iterator[Metric]:
        yield from self.families
