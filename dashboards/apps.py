from django.apps import AppConfig


class DashboardsConfig(AppConfig):
    """The operations overview and the history charts: reads only, through the other apps' public selectors."""

    name = "dashboards"  # no models: its name shows nowhere, so it needs no translated verbose_name

    def ready(self) -> None:
        from dashboards.selectors import dashboard_cache_warm
        from monitoring.history import rollups_written

        rollups_written.connect(dashboard_cache_warm, dispatch_uid="dashboards.cache_warm")
