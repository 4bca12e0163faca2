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

    def get_urls(self):
        from opsportal.dashboards import views

        # admin_view: staff only, never cached, login redirect for everyone else (the JSON endpoints included).
        return [
            path("overview.json", self.admin_view(views.overview_data), name="overview-data"),
            path("dashboard/", self.admin_view(partial(views.history_page, site=self)), name="dashboard-history"),
            path("dashboard/data.json", self.admin_view(views.history_data), name="dashboard-history-data"),
            *super().get_urls(),
        ]

    def index(self, request, extra_context=None):
        from opsportal.dashboards.selectors import overview_context

        messages = {"updated": _("Updated at %(time)s; refreshes by itself."),
                    "failed": _("Could not refresh the overview; trying again.")}
        context = {**overview_context(), "overview_messages": {key: str(text) for key, text in messages.items()}}
        return super().index(request, extra_context={**context, **(extra_context or {})})
