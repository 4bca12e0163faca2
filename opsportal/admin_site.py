"""The admin site: titled OpsPortal, with the operations overview on its index page and the dashboards beside it."""

from __future__ import annotations

from functools import partial

from django.contrib import admin
from django.urls import path
from django.utils.translation import gettext_lazy as _


class OpsPortalAdminSite(admin.AdminSite):
    site_header = _("OpsPortal")
    site_title = _("OpsPortal")
    index_title = _("Operations overview")
    index_template = "admin/opsportal_index.html"

    def check(self, app_configs):
        # The admin.py modules load with the URLconf (OpsPortalAdminConfig): load them before the admin checks too,
        # so `manage.py check` validates every registered ModelAdmin whatever order the checks run in.
        admin.autodiscover()
        return super().check(app_configs)

    def get_urls(self):
        from dashboards import views

        # admin_view: staff only, never cached, login redirect for everyone else (the JSON endpoints included).
        return [
            path("overview.json", self.admin_view(views.overview_data), name="overview-data"),
            path("dashboard/", self.admin_view(partial(views.history_page, site=self)), name="dashboard-history"),
            path("dashboard/data.json", self.admin_view(views.history_data), name="dashboard-history-data"),
            *super().get_urls(),
        ]

    def index(self, request, extra_context=None):
        from dashboards.selectors import overview_context

        messages = {"updated": _("Updated at %(time)s; refreshes by itself."),
                    "failed": _("Could not refresh the overview; trying again.")}
        context = {**overview_context(), "overview_messages": {key: str(text) for key, text in messages.items()},
                   **app_lists_split(self.get_app_list(request))}
        return super().index(request, extra_context={**context, **(extra_context or {})})


# What an operator opens by hand; every other model (histories, rollups, heartbeats, deliveries, the beat's
# schedules) is grouped under one folded "Internal records" heading on the index. A new module's models show with
# the operator's (nothing of it is hidden until it is named here).
INTERNAL_MODELS = {
    "alerting": {"alertevent", "alerttransition", "delivery"},
    "monitoring": {"checkresult", "metricsample", "metricrollup", "checkrollup", "metricdailyrollup",
                   "checkdailyrollup", "hostreport", "workerheartbeat", "beattick"},
    "performance": {"perfresult", "perfrollup", "requeststat", "requestrollup"},
    "django_celery_beat": {"crontabschedule", "solarschedule", "clockedschedule", "intervalschedule"},
}


def app_lists_split(app_list: list[dict]) -> dict:
    """The admin index's app list as the operator's models and the internal ones (each app in both, as needed)."""
    operator, internal = [], []
    for app in app_list:
        hidden = INTERNAL_MODELS.get(app["app_label"], set())
        models = [model for model in app["models"] if model["object_name"].lower() not in hidden]
        rest = [model for model in app["models"] if model["object_name"].lower() in hidden]
        if models:
            operator.append({**app, "models": models})
        if rest:
            internal.append({**app, "models": rest})
    return {"operator_app_list": operator, "internal_app_list": internal,
            "internal_model_count": sum(len(app["models"]) for app in internal)}
