"""The admin site: titled OpsPortal, with the operations overview on its index page."""

from __future__ import annotations

from django.contrib import admin
from django.utils.translation import gettext_lazy as _


class OpsPortalAdminSite(admin.AdminSite):
    site_header = _("OpsPortal")
    site_title = _("OpsPortal")
    index_title = _("Operations overview")
    index_template = "admin/opsportal_index.html"

    def index(self, request, extra_context=None):
        from alerting.selectors import channels_failing, firing_alerts
        from backups.selectors import backup_overview
        from monitoring.selectors import health_overview
        from performance.selectors import perf_targets_enabled

        health = health_overview()
        context = {
            "health": health,
            "worker_heartbeats": health["worker_heartbeats"],
            "backup_overview": backup_overview(),
            "firing_alerts": firing_alerts(),
            "failing_channels": channels_failing(),
            "perf_targets": perf_targets_enabled(),
            **(extra_context or {}),
        }
        return super().index(request, extra_context=context)
