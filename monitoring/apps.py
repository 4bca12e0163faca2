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
