from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


class BackupsConfig(AppConfig):
    name = "backups"
    verbose_name = _("Backups")

    def ready(self) -> None:
        from backups import receivers, system_checks  # noqa: F401 (registers the system checks and listeners)
        from backups.schedules import create_default_schedules
        from backups.sources import autodiscover

        autodiscover()
        post_migrate.connect(create_default_schedules, sender=self)
