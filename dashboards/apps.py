from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DashboardsConfig(AppConfig):
    """The operations overview and the history charts: reads only, through the other apps' public selectors."""

    name = "dashboards"
    verbose_name = _("Dashboards")

    def ready(self) -> None:
        from dashboards.selectors import dashboard_cache_warm
        from monitoring.history import rollups_written

        rollups_written.connect(dashboard_cache_warm, dispatch_uid="dashboards.cache_warm")
