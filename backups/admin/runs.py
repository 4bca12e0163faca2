"""Backup runs in the admin: a fast history (100,000 runs), the run's page, and thin actions calling services."""

from __future__ import annotations

import copy
import json

from django.contrib import admin, messages
from django.db import transaction
from django.http import HttpRequest, HttpResponseRedirect
from django.template.defaultfilters import filesizeformat
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, gettext_noop, ngettext

from backups.admin import pitr, views
from backups.admin.log_repr import StableLogReprMixin
from backups.log_lines import translated_log
from backups.models import BackupArtifact, BackupRun
from backups.selectors import (
    backup_run_drill_progress,
    backup_run_drill_running,
    backup_run_duration,
    backup_run_manifest,
    backup_run_progress,
    backup_sources_listed,
)
from backups.services.delete import BackupRunNotDeletable, backup_run_delete
from backups.services.retention import RetentionPolicy
from backups.services.runs import backup_runs_set_pinned
from monitoring.messages import Message
from opsportal.lib.admin_display import HumanNumbersMixin
from opsportal.lib.humanize import format_seconds, human_duration, status_badge


class BackupArtifactInline(admin.TabularInline):
    model = BackupArtifact
    extra = 0
    fields = ["kind", "name", "size", "sha256", "encrypted", "format", "path"]
    readonly_fields = fields
    can_delete = False

    @admin.display(description=gettext_lazy("size"))
    def size(self, artifact: BackupArtifact) -> str:
        return filesizeformat(artifact.stored_bytes)

    def has_view_permission(self, request, obj=None):
        # Whoever may see the run sees its files; no separate artifact permission to hand out.
        return request.user.has_perm("backups.view_backuprun")

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(BackupRun)
class BackupRunAdmin(StableLogReprMixin, HumanNumbersMixin, admin.ModelAdmin):
    list_display = ["id", "status_badge", "created_at", "duration", "size", "trigger", "who", "checked", "pinned"]
    list_display_links = ["id", "status_badge"]
    list_filter = ["status", "trigger", ("created_at", admin.DateFieldListFilter), "verification", "pinned"]
    search_fields = ["id"]
    search_help_text = gettext_lazy("Search by run number, e.g. 42 or #42.")
    # Every column is on the run itself: no join and no query per row, so 100,000 runs list as fast as 10.
    list_select_related = []
    show_full_result_count = False
    list_per_page = 50
    ordering = ["-created_at", "-id"]
    inlines = [BackupArtifactInline]
    human_numbers = {"drill_rto_seconds": ("s", gettext_lazy("restore drill duration (RTO)"))}
    actions = ["verify_selected", "drill_selected", "pin_selected", "unpin_selected"]
    change_list_template = "admin/backups/backuprun/change_list.html"
    change_form_template = "admin/backups/backuprun/change_form.html"
    delete_confirmation_template = "admin/backups/backuprun/delete_confirmation.html"
    fieldsets = [
        (None, {"fields": ["status_badge", "trigger", "who", "created_at", "started_at", "finished_at", "duration"]}),
        (gettext_lazy("Result"), {"fields": ["size", "storage_prefix", "pinned", "error_text"]}),
        (
            gettext_lazy("Verification"),
            {"fields": ["verification", "verified_at", "drill_rto_seconds", "verification_detail"]},
        ),
        (gettext_lazy("Restores"), {"fields": ["restores_links", "safety_for_links"]}),
        (gettext_lazy("Manifest and log"), {"fields": ["manifest_text", "log_text", "worker_host", "worker_pid"]}),
    ]
    readonly_fields = [
        "status_badge", "trigger", "who", "created_at", "started_at", "finished_at", "duration", "size",
        "storage_prefix", "pinned", "error_text", "verification", "verified_at", "drill_rto_seconds",
        "verification_detail", "restores_links", "safety_for_links", "manifest_text", "log_text", "worker_host",
        "worker_pid",
    ]  # fmt: skip

    # --- permissions --------------------------------------------------------------------------------------------
    def has_add_permission(self, request, obj=None):
        return False  # runs are created by "Run backup now", schedules and the CLI, never typed in

    def has_change_permission(self, request, obj=None):
        return False  # history is read-only; state changes go through the buttons below

    def has_delete_permission(self, request, obj=None):
        if not super().has_delete_permission(request, obj):
            return False
        return obj is None or (obj.status not in (BackupRun.Status.QUEUED, BackupRun.Status.RUNNING) and not obj.pinned)

    def has_run_backup_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("backups.run_backup")

    def has_restore_backup_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("backups.restore_backup")

    def get_actions(self, request):
        actions = super().get_actions(request)
        # Bulk delete would bypass the per-run checks (pinned, running) and its success message would hide files
        # that could not be deleted; a run is deleted from its own page, old ones by the retention policy.
        actions.pop("delete_selected", None)
        return actions

    # --- list -----------------------------------------------------------------------------------------------------
    @admin.display(description=gettext_lazy("status"), ordering="status")
    def status_badge(self, run: BackupRun):
        return status_badge(run.status, run.get_status_display(), kind="backup")

    @admin.display(description=gettext_lazy("duration"))
    def duration(self, run: BackupRun) -> str:
        return human_duration(backup_run_duration(run))

    @admin.display(description=gettext_lazy("size"), ordering="total_bytes")
    def size(self, run: BackupRun) -> str:
        return filesizeformat(run.total_bytes) if run.status == BackupRun.Status.SUCCEEDED else "—"

    @admin.display(description=gettext_lazy("who"), ordering="triggered_by_name")
    def who(self, run: BackupRun) -> str:
        return run.triggered_by_name or "—"

    @admin.display(description=gettext_lazy("checked"), ordering="verification")
    def checked(self, run: BackupRun) -> str:
        # Short on purpose: the list is wide; the run's page has the full verification detail.
        if run.verification == BackupRun.Verification.DRILL_PASSED:
            if run.drill_rto_seconds is None:
                return _("drill ok")
            return _("drill ok, RTO %(duration)s") % {"duration": format_seconds(run.drill_rto_seconds)}
        if run.verification == BackupRun.Verification.VERIFIED:
            return _("sha256 ok")
        if run.verification == BackupRun.Verification.FAILED:
            return _("FAILED")
        return "—"

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if request.resolver_match and request.resolver_match.url_name == "backups_backuprun_changelist":
            # Logs and details can be long; the list never shows them.
            queryset = queryset.defer("log", "error", "verification_detail", "only")
        return queryset

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip().lstrip("#")
        if not term:
            return queryset, False
        return (queryset.filter(pk=int(term)) if term.isdigit() else queryset.none()), False

    def changelist_view(self, request, extra_context=None):
        context = {
            "retention_rules": RetentionPolicy.from_settings().describe(),
            "can_run_backup": self.has_run_backup_permission(request),
            "backup_sources": backup_sources_listed(),
            **pitr.changelist_context(self, request),
            **(extra_context or {}),
        }
        return super().changelist_view(request, extra_context=context)

    # --- the run's page -------------------------------------------------------------------------------------------
    @admin.display(description=gettext_lazy("error"))
    def error_text(self, run: BackupRun):
        return format_html("<pre style='white-space:pre-wrap'>{}</pre>", run.error) if run.error else "—"

    @admin.display(description=gettext_lazy("log"))
    def log_text(self, run: BackupRun):
        return format_html("<pre style='white-space:pre-wrap;max-height:30em;overflow:auto'>{}</pre>",
                           translated_log(run.log))

    @admin.display(description=gettext_lazy("manifest"))
    def manifest_text(self, run: BackupRun):
        data = backup_run_manifest(run)
        if data is None:
            return "—"
        return format_html("<pre style='max-height:30em;overflow:auto'>{}</pre>", json.dumps(data, indent=2))

    @admin.display(description=gettext_lazy("restores of this backup"))
    def restores_links(self, run: BackupRun):
        return _restore_links(run.restores.all()) or "—"

    @admin.display(description=gettext_lazy("safety backup for"))
    def safety_for_links(self, run: BackupRun):
        return _restore_links(run.safety_for.all()) or "—"

    def change_view(self, request, object_id, form_url="", extra_context=None):
        run = self.get_object(request, object_id)
        context = {
            "can_run_backup": self.has_run_backup_permission(request),
            "can_restore": self.has_restore_backup_permission(request)
            and run is not None
            and run.status == BackupRun.Status.SUCCEEDED,
            "is_active": run is not None and run.status in (BackupRun.Status.QUEUED, BackupRun.Status.RUNNING),
            "live": backup_run_progress(run) if run is not None else None,
            "drill_running": run is not None and backup_run_drill_running(run),
            "drill_live": backup_run_drill_progress(run) if run is not None else None,
            **(extra_context or {}),
        }
        return super().change_view(request, object_id, form_url, extra_context=context)

    # --- delete (Django's confirmation page; files first, then the record) ----------------------------------------
    def delete_model(self, request, obj: BackupRun) -> None:
        record = copy.copy(obj)  # keeps the pk for the log entry after the run is gone
        try:
            problems = backup_run_delete(run=obj)
        except BackupRunNotDeletable as exc:
            problems = [str(exc)]
        request._backup_delete_problems = problems
        if not problems:
            super().log_deletions(request, [record])

    def response_delete(self, request, obj_display, obj_id):
        problems = getattr(request, "_backup_delete_problems", [])
        if not problems:
            return super().response_delete(request, obj_display, obj_id)
        self.message_user(
            request,
            _("Backup #%(id)s was kept because some of its files could not be deleted: %(problems)s")
            % {"id": obj_id, "problems": "; ".join(problems)},
            messages.ERROR,
        )
        return HttpResponseRedirect(reverse("admin:backups_backuprun_change", args=[obj_id]))

    def log_deletions(self, request, queryset):
        # Django logs before delete_model runs, whatever happens; delete_model logs only what was really deleted.
        return []

    # --- actions on selected runs -----------------------------------------------------------------------------------
    @admin.action(description=gettext_lazy("Verify checksums of selected backups"), permissions=["run_backup"])
    def verify_selected(self, request, queryset):
        self._enqueue_verify(request, queryset, drill=False)

    @admin.action(description=gettext_lazy("Run a restore drill of selected backups"), permissions=["run_backup"])
    def drill_selected(self, request, queryset):
        self._enqueue_verify(request, queryset, drill=True)

    @admin.action(description=gettext_lazy("Pin selected backups (never pruned)"), permissions=["run_backup"])
    def pin_selected(self, request, queryset):
        self._set_pinned(request, queryset, pinned=True)

    @admin.action(description=gettext_lazy("Unpin selected backups"), permissions=["run_backup"])
    def unpin_selected(self, request, queryset):
        self._set_pinned(request, queryset, pinned=False)

    def _enqueue_verify(self, request, queryset, *, drill: bool) -> None:
        runs = list(queryset.filter(status=BackupRun.Status.SUCCEEDED))
        for run in runs:
            views.enqueue_verify(self, request, run, drill=drill)
        self.message_user(
            request,
            ngettext("%(count)s backup queued for checking.", "%(count)s backups queued for checking.", len(runs))
            % {"count": len(runs)},
        )

    def _set_pinned(self, request, queryset, *, pinned: bool) -> None:
        with transaction.atomic():
            changed = backup_runs_set_pinned(runs=queryset, pinned=pinned)
            for run in changed:
                self.log_change(request, run, Message(gettext_noop("Pinned") if pinned else gettext_noop("Unpinned")))
        self.message_user(
            request,
            (ngettext("%(count)s backup pinned.", "%(count)s backups pinned.", len(changed)) if pinned
             else ngettext("%(count)s backup unpinned.", "%(count)s backups unpinned.", len(changed)))
            % {"count": len(changed)},
        )  # fmt: skip

    # --- buttons (custom views) -------------------------------------------------------------------------------------
    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("run-now/", wrap(views.run_now(self)), name="backups_backuprun_run_now"),
            path("run-physical-now/", wrap(pitr.run_physical_now(self)), name="backups_backuprun_run_physical_now"),
            path("point-in-time/", wrap(pitr.point_in_time(self)), name="backups_backuprun_point_in_time"),
            path("<int:object_id>/progress/", wrap(views.progress(self)), name="backups_backuprun_progress"),
            path("<int:object_id>/drill-progress/", wrap(views.drill_progress(self)),
                 name="backups_backuprun_drill_progress"),
            path("<int:object_id>/verify/", wrap(views.verify(self, drill=False)), name="backups_backuprun_verify"),
            path("<int:object_id>/drill/", wrap(views.verify(self, drill=True)), name="backups_backuprun_drill"),
            path("<int:object_id>/pin/", wrap(views.pin(self, pinned=True)), name="backups_backuprun_pin"),
            path("<int:object_id>/unpin/", wrap(views.pin(self, pinned=False)), name="backups_backuprun_unpin"),
            path("<int:object_id>/restore/", wrap(views.restore(self)), name="backups_backuprun_restore"),
            *super().get_urls(),
        ]


def _restore_links(restores) -> str:
    return format_html_join(
        ", ",
        '<a href="{}">{}</a>',
        ((reverse("admin:backups_restorerun_change", args=[r.pk]), str(r)) for r in restores),
    )
