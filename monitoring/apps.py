from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


class MonitoringConfig(AppConfig):
    name = "monitoring"
    verbose_name = _("Monitoring")

    def ready(self) -> None:
        from monitoring import heartbeat  # noqa: F401 - connects the worker_ready heartbeat
        from monitoring.schedules import create_default_schedules

        post_migrate.connect(create_default_schedules, sender=self)

        from alerting.observations import register_metric_name_source, register_provider
        from monitoring.observations import BUILT_IN_METRICS, snapshot_observations
        from monitoring.registry import metric_names

        register_provider(snapshot_observations, metrics=BUILT_IN_METRICS)
        register_metric_name_source(metric_names)  # modules' metrics, known before any snapshot has them
