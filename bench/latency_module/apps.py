from django.apps import AppConfig


class LatencyModuleConfig(AppConfig):
    """bench/alerting_latency.py's module: a metric whose value the benchmark sets (EXTRA_APPS=bench.latency_module)."""

    name = "bench.latency_module"
    label = "bench_latency_module"
