from django.apps import AppConfig
from django.contrib.admin.apps import AdminConfig
from django.utils.translation import gettext_lazy as _


class OpsPortalAdminConfig(AdminConfig):
    default_site = "opsportal.admin_site.OpsPortalAdminSite"


class OpsPortalConfig(AppConfig):
    name = "opsportal"
    verbose_name = _("OpsPortal")

    def ready(self) -> None:
        from monitoring.history import rollups_written
        from opsportal.dashboards.selectors import dashboard_cache_warm

        rollups_written.connect(dashboard_cache_warm, dispatch_uid="opsportal.dashboards.cache_warm")
