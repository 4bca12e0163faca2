from django.apps import AppConfig
from django.contrib.admin.apps import AdminConfig
from django.utils.translation import gettext_lazy as _


class OpsPortalAdminConfig(AdminConfig):
    default_site = "opsportal.admin_site.OpsPortalAdminSite"


class OpsPortalConfig(AppConfig):
    name = "opsportal"
    verbose_name = _("OpsPortal")
