from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


class AlertingConfig(AppConfig):
    name = "alerting"
    verbose_name = _("Alerting")

    def ready(self) -> None:
        from alerting import sources
        from alerting.defaults import create_default_rules
        from alerting.schedules import create_default_schedules
        from alerting.signals import connect_app_signals
        from opsportal.lib.registry import autodiscover

        post_migrate.connect(create_default_rules, sender=self, dispatch_uid="alerting:default-rules")
        post_migrate.connect(create_default_schedules, sender=self, dispatch_uid="alerting:default-schedules")
        connect_app_signals()  # backups', performance's and monitoring's public signals
        sources.register()  # monitoring's snapshot, read through monitoring's public functions
        autodiscover("alerting")  # the installed apps' alerting.py: their observation providers, from start-up
