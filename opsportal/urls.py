from django.contrib import admin
from django.templatetags.static import static
from django.urls import include, path
from django.views.generic import RedirectView

from opsportal.lib.registry import module_urlpatterns

# Every installed app's admin.py, here rather than at start (OpsPortalAdminConfig is a SimpleAdminConfig).
admin.autodiscover()

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="admin:index", permanent=False)),
    # Browsers ask for /favicon.ico on every page that names no icon (JSON, API): answer it instead of a 404.
    path("favicon.ico", RedirectView.as_view(url=static("opsportal/favicon.svg"), permanent=True)),
    path("admin/", admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("api/system/", include("monitoring.urls")),
    path("", include("backups.urls")),
    path("", include("performance.urls")),
    # Each module's urls.py at /<app_label>/ (or its AppConfig's url_prefix): a module needs no line here.
    *module_urlpatterns(),
]
