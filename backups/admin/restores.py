"""Restore runs in the admin: read-only history; a running restore's page follows its progress by itself."""

from __future__ import annotations

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import Http404, JsonResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET

from backups.admin.log_repr import StableLogReprMixin
from backups.log_lines import translated_log
from backups.models import RestoreRun
from backups.selectors import restore_run_progress
from opsportal.lib.humanize import status_badge


@admin.register(RestoreRun)
class RestoreRunAdmin(StableLogReprMixin, admin.ModelAdmin):
    list_display = ["id", "status_badge", "source_link", "target", "who", "created_at", "finished_at"]
    list_display_links = ["id", "status_badge"]
    list_filter = ["status", ("created_at", admin.DateFieldListFilter)]
    # No select_related: the list links the source by its id; a join would read each source run's whole row (its log).
    list_select_related = False
    show_full_result_count = False
    ordering = ["-created_at", "-id"]
    change_form_template = "admin/backups/restorerun/change_form.html"
    fields = [
        "status_badge", "source_link", "safety_link", "target", "only", "kind", "recovery_target_type",
        "recovery_target", "pg_path", "port", "in_place", "current_step", "who", "created_at", "started_at",
        "finished_at", "error_text", "log_text",
    ]  # fmt: skip
    readonly_fields = fields

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if request.resolver_match and request.resolver_match.url_name == "backups_restorerun_changelist":
            queryset = queryset.defer("log")  # the list never shows it; the restore's page does
        return queryset

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description=gettext_lazy("status"), ordering="status")
    def status_badge(self, restore: RestoreRun):
        return status_badge(restore.status, restore.get_status_display(), kind="backup")

    @admin.display(description=gettext_lazy("restored backup"), ordering="source_run")
    def source_link(self, restore: RestoreRun):
        if restore.source_run_id is None:
            return "—"
        url = reverse("admin:backups_backuprun_change", args=[restore.source_run_id])
        return format_html('<a href="{}">#{}</a>', url, restore.source_run_id)

    @admin.display(description=gettext_lazy("safety backup"))
    def safety_link(self, restore: RestoreRun):
        if restore.safety_run_id is None:
            return "—"
        url = reverse("admin:backups_backuprun_change", args=[restore.safety_run_id])
        return format_html('<a href="{}">#{}</a>', url, restore.safety_run_id)

    @admin.display(description=gettext_lazy("who"), ordering="triggered_by_name")
    def who(self, restore: RestoreRun) -> str:
        return restore.triggered_by_name or "—"

    @admin.display(description=gettext_lazy("error"))
    def error_text(self, restore: RestoreRun):
        return format_html("<pre style='white-space:pre-wrap'>{}</pre>", restore.error) if restore.error else "—"

    @admin.display(description=gettext_lazy("log"))
    def log_text(self, restore: RestoreRun):
        return format_html("<pre style='white-space:pre-wrap'>{}</pre>", translated_log(restore.log))

    def change_view(self, request, object_id, form_url="", extra_context=None):
        restore = self.get_object(request, object_id)
        context = {
            "is_active": restore is not None
            and restore.status in (RestoreRun.Status.QUEUED, RestoreRun.Status.RUNNING),
            "live": restore_run_progress(restore) if restore is not None else None,
            **(extra_context or {}),
        }
        return super().change_view(request, object_id, form_url, extra_context=context)

    def get_urls(self):
        @require_GET
        def progress(request, object_id: int):
            if not self.has_view_permission(request):
                raise PermissionDenied
            restore = RestoreRun.objects.select_related("safety_run").filter(pk=object_id).first()
            if restore is None:
                raise Http404
            return JsonResponse(restore_run_progress(restore))

        return [
            path(
                "<int:object_id>/progress/",
                self.admin_site.admin_view(progress),
                name="backups_restorerun_progress",
            ),
            *super().get_urls(),
        ]
