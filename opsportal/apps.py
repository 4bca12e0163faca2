from django.apps import AppConfig
from django.contrib.admin.apps import SimpleAdminConfig
from django.utils.translation import gettext_lazy as _


class OpsPortalAdminConfig(SimpleAdminConfig):
    """The admin with our site. Its admin.py modules are imported with the URLconf (opsportal/urls.py), not at start:
    a management command such as `backup` then starts without loading every admin page's code."""

    default_site = "opsportal.admin_site.OpsPortalAdminSite"


class OpsPortalConfig(AppConfig):
    name = "opsportal"
    verbose_name = _("OpsPortal")
