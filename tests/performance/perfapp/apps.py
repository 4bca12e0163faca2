from django.apps import AppConfig


class PerfAppConfig(AppConfig):
    name = "tests.performance.perfapp"
    label = "perf_test_app"
