"""Physical backups in the admin: "Run physical backup now" and the point-in-time restore form.

The form shows the earliest and latest recoverable times, takes a time (or the latest, or a named restore point),
a new data directory and port (or "over the running cluster"), and the stanza's name typed to confirm; it creates a
RestoreRun and queues it. The safety step (a restore point; for a restore over the cluster an incremental safety
backup too) and the progress are the restore's own (backups/physical/restore.py), shown on the restore's page.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django import forms
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, gettext_noop
from django.views.decorators.http import require_http_methods, require_POST

from backups.models import BackupRun, RestoreRun
from backups.physical import BACKUP_TYPES
from backups.physical.cluster import free_port
from backups.physical.config import PhysicalNotConfigured, enabled
from backups.physical.restore import (
    TARGET_LATEST,
    TARGET_NAME,
    TARGET_TIME,
    confirmation_word,
    physical_restore_enqueue,
    recovery_window,
)
from monitoring.messages import Message

if TYPE_CHECKING:
    from backups.admin.runs import BackupRunAdmin


class PointInTimeForm(forms.Form):
    target_type = forms.ChoiceField(
        label=gettext_lazy("Recover to"), widget=forms.RadioSelect, initial=TARGET_TIME,
        choices=[(TARGET_TIME, gettext_lazy("a point in time")), (TARGET_LATEST, gettext_lazy("the latest archived "
                 "moment")), (TARGET_NAME, gettext_lazy("a named restore point"))],
    )
    target_time = forms.DateTimeField(label=gettext_lazy("Time"), required=False,
                                      help_text=gettext_lazy("In the portal's time zone, e.g. 2026-12-01 21:45:00."))
    restore_point = forms.CharField(label=gettext_lazy("Restore point"), required=False, max_length=63)
    in_place = forms.BooleanField(label=gettext_lazy("Over the running cluster (stops it; a safety backup first)"),
                                  required=False)
    pg_path = forms.CharField(label=gettext_lazy("New data directory"), required=False, max_length=500)
    port = forms.IntegerField(label=gettext_lazy("Port"), required=False, min_value=1024, max_value=65535)
    confirmation = forms.CharField(label=gettext_lazy("Type the stanza's name to confirm"), max_length=200)

    def __init__(self, *args, expected: str, in_container: bool = False, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.expected = expected
        self.in_container = in_container
        if in_container:  # PostgreSQL in a container: a new container on a new volume, never over the running one
            del self.fields["in_place"]
            self.fields["pg_path"].label = gettext_lazy("New container's name")
            self.fields["pg_path"].max_length = 100
            self.fields["pg_path"].help_text = gettext_lazy(
                "A new container from the same image, on a new volume named after it (NAME-data). Leave empty for "
                "the running container's name with -pitr-<restore number>.")
            self.fields["port"].help_text = gettext_lazy(
                "The host port the new container publishes; leave empty for a spare one.")

    def clean(self) -> dict:
        data = super().clean()
        kind = data.get("target_type")
        if kind == TARGET_TIME and not data.get("target_time"):
            self.add_error("target_time", _("Give the time to recover to."))
        if kind == TARGET_NAME and not data.get("restore_point"):
            self.add_error("restore_point", _("Give the restore point's name."))
        if self.in_container:
            from backups.physical.container import valid_name

            if data.get("pg_path") and not valid_name(data["pg_path"]):
                self.add_error("pg_path", _("Letters, digits, _ . and - only."))
        elif not data.get("in_place") and (not data.get("pg_path") or not data.get("port")):
            self.add_error("pg_path", _("Give a new data directory and a port, or restore over the running cluster."))
        if data.get("confirmation", "").strip() != self.expected:
            self.add_error("confirmation", _("Type %(expected)s exactly to restore.") % {"expected": self.expected})
        return data


def run_physical_now(model_admin: BackupRunAdmin):
    @require_POST
    def view(request: HttpRequest) -> HttpResponse:
        from backups.physical.backup import physical_backup_enqueue
        from backups.services.backup import BackupBusy

        if not model_admin.has_run_backup_permission(request):
            raise PermissionDenied
        backup_type = request.POST.get("type", "incr")
        if backup_type not in BACKUP_TYPES:
            backup_type = "incr"
        try:
            with transaction.atomic():
                run = physical_backup_enqueue(backup_type=backup_type, trigger=BackupRun.Trigger.MANUAL,
                                              user=request.user)
        except (BackupBusy, PhysicalNotConfigured) as exc:
            model_admin.message_user(request, str(exc), messages.ERROR)
            return HttpResponseRedirect(reverse("admin:backups_backuprun_changelist"))
        model_admin.log_addition(request, run, Message(gettext_noop("Physical backup requested from the admin.")))
        model_admin.message_user(request, _("Physical backup #%(id)s (%(type)s) queued.")
                                 % {"id": run.pk, "type": backup_type})
        return HttpResponseRedirect(reverse("admin:backups_backuprun_change", args=[run.pk]))

    return view


def point_in_time(model_admin: BackupRunAdmin):
    @require_http_methods(["GET", "POST"])
    def view(request: HttpRequest) -> HttpResponse:
        if not model_admin.has_restore_backup_permission(request):
            raise PermissionDenied
        changelist = reverse("admin:backups_backuprun_changelist")
        if not enabled():
            model_admin.message_user(request, _("Physical backups are not configured: set BACKUP_PGBACKREST_STANZA."),
                                     messages.ERROR)
            return HttpResponseRedirect(changelist)
        expected = confirmation_word()
        window, window_error = None, ""
        try:
            window = recovery_window()
        except Exception as exc:
            window_error = str(exc)
        in_container = bool(settings.BACKUP_PGBACKREST_CONTAINER)
        form = PointInTimeForm(request.POST or None, expected=expected, in_container=in_container,
                               initial={"port": free_port()} if request.method == "GET" else None)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            kind = data["target_type"]
            target = data["target_time"].isoformat() if kind == TARGET_TIME else (
                data["restore_point"] if kind == TARGET_NAME else "")
            from backups.services.restore import RestoreBusy

            try:
                with transaction.atomic():
                    restore = physical_restore_enqueue(
                        target_type=kind, target=target, in_place=bool(data.get("in_place")), user=request.user,
                        pg_path="" if data.get("in_place") else data["pg_path"],
                        port=None if data.get("in_place") else data["port"],
                    )
            except RestoreBusy as exc:
                model_admin.message_user(request, f"{_('Nothing was started.')} {exc}",
                                         messages.WARNING)
                return HttpResponseRedirect(reverse("admin:backups_restorerun_change", args=[exc.other.pk]))
            restore_admin = model_admin.admin_site._registry[RestoreRun]
            restore_admin.log_addition(
                request, restore, Message(gettext_noop("Point-in-time restore requested from the admin.")))
            if in_container:
                model_admin.message_user(request, _(
                    "Point-in-time restore #%(id)s queued: into the new container %(name)s (volume %(volume)s) on "
                    "port %(port)s; a restore point marks the present first.") % {
                    "id": restore.pk, "name": restore.pg_path, "volume": f"{restore.pg_path}-data",
                    "port": restore.port})
            else:
                model_admin.message_user(request, _("Point-in-time restore #%(id)s queued: a restore point marks the "
                                                    "present first.") % {"id": restore.pk})
            return HttpResponseRedirect(reverse("admin:backups_restorerun_change", args=[restore.pk]))
        context = {
            **model_admin.admin_site.each_context(request), "opts": model_admin.opts,
            "title": _("Point-in-time restore (pgBackRest)"), "form": form, "window": window,
            "window_error": window_error, "expected": expected, "in_container": in_container,
            "container": settings.BACKUP_PGBACKREST_CONTAINER,
        }
        return TemplateResponse(request, "admin/backups/backuprun/point_in_time.html", context,
                                status=400 if request.method == "POST" else 200)

    return view


def changelist_context(model_admin: BackupRunAdmin, request: HttpRequest) -> dict:
    """What the backup runs list shows of physical backups: its buttons and its retention rules."""
    if not enabled():
        return {"physical_enabled": False}
    from backups.physical.retention import describe

    return {"physical_enabled": True, "physical_retention_rules": describe(),
            "can_restore": model_admin.has_restore_backup_permission(request)}
