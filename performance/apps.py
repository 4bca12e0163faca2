from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


class PerformanceConfig(AppConfig):
    name = "performance"
    verbose_name = _("Performance")

    def ready(self) -> None:
        from performance import system_checks  # noqa: F401 (registers the system checks)
        from performance.schedules import create_default_schedules

        post_migrate.connect(create_default_schedules, sender=self)
        # Its alert observation providers are in performance/alerting.py, its metrics collector in health.py:
        # found by discovery like any module's.
