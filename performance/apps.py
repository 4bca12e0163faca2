from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


class PerformanceConfig(AppConfig):
    name = "performance"
    verbose_name = _("Performance")

    def ready(self) -> None:
        from performance import checks  # noqa: F401 (registers the system checks)
        from performance.schedules import create_default_schedules

        post_migrate.connect(create_default_schedules, sender=self)

        from alerting.observations import register_provider
        from performance.observations import METRIC_BREACHED, METRIC_P95, METRIC_UP, performance_observations

        register_provider(performance_observations, metrics=[METRIC_BREACHED, METRIC_P95, METRIC_UP])

        from performance.route_observations import ROUTE_METRICS, route_observations

        register_provider(route_observations, metrics=ROUTE_METRICS)  # real traffic, per route

        from monitoring.metrics import register_collector
        from performance.metrics import PerformanceCollector

        register_collector(PerformanceCollector)
