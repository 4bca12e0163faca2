"""The backup buttons: each view checks the permission on the server, calls one service and logs who did it.

They are wrapped by `admin_site.admin_view` (staff login; anonymous users go to the login page). A POST without
the permission gets 403 even if the button was never shown.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from backups.models import BackupRun, RestoreRun
from backups.selectors import (
    backup_run_drill_progress,
    backup_run_progress,
    backup_sources_listed,
    restore_confirmation_word,
    restore_overwrites,
)
from backups.services.backup import BackupBusy, backup_run_enqueue
from backups.services.restore import RestoreBusy
from backups.services.runs import backup_run_verify_enqueue, backup_runs_set_pinned, restore_run_enqueue
from monitoring.messages import Message

if TYPE_CHECKING:
    from backups.admin.runs import BackupRunAdmin

View = Callable[..., HttpResponse]


def _run_link(run: BackupRun) -> str:
    return format_html('<a href="{}">#{}</a>', reverse("admin:backups_backuprun_change", args=[run.pk]), run.pk)


def _restore_link(restore: RestoreRun | None) -> str:
    if restore is None:
        return ""
    return format_html('<a href="{}">#{}</a>', reverse("admin:backups_restorerun_change", args=[restore.pk]),
                       restore.pk)


def _get_run(model_admin: BackupRunAdmin, request: HttpRequest, object_id: int) -> BackupRun:
    if not model_admin.has_view_permission(request):
        raise PermissionDenied
    run = BackupRun.objects.filter(pk=object_id).first()
    if run is None:
        raise Http404(_("There is no backup #%(id)s.") % {"id": object_id})
    return run


def _back(request: HttpRequest, default: str) -> HttpResponseRedirect:
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(target, {request.get_host()}, require_https=request.is_secure()):
        return HttpResponseRedirect(target)
    return HttpResponseRedirect(default)


def run_now(model_admin: BackupRunAdmin) -> View:
    @require_POST
    def view(request: HttpRequest) -> HttpResponse:
        if not model_admin.has_run_backup_permission(request):
            raise PermissionDenied
        only = request.POST.get("only", "")
        if only and only not in {source.selector for source in backup_sources_listed()}:
            model_admin.message_user(request, _("Nothing was started: %(source)s is not a configured source.")
                                     % {"source": only}, messages.ERROR)
            return _back(request, reverse("admin:backups_backuprun_changelist"))
        try:
            run = backup_run_enqueue(trigger=BackupRun.Trigger.MANUAL, user=request.user, only=[only] if only else None)
        except BackupBusy as exc:
            model_admin.message_user(
                request,
                format_html("{} {} {}", _("Nothing was started."), str(exc),
                            _run_link(exc.run) if exc.run is not None else _restore_link(exc.restore)),
                messages.WARNING,
            )
        else:
            model_admin.log_addition(
                request, run, Message(gettext_noop("Started a backup from the admin (Run backup now).")))
            model_admin.message_user(
                request, format_html(_("Backup {} queued; it runs on the backups queue."), _run_link(run))
            )
        return _back(request, reverse("admin:backups_backuprun_changelist"))

    return view


def progress(model_admin: BackupRunAdmin) -> View:
    @require_GET
    def view(request: HttpRequest, object_id: int) -> HttpResponse:
        return JsonResponse(backup_run_progress(_get_run(model_admin, request, object_id)))

    return view


def drill_progress(model_admin: BackupRunAdmin) -> View:
    @require_GET
    def view(request: HttpRequest, object_id: int) -> HttpResponse:
        return JsonResponse(backup_run_drill_progress(_get_run(model_admin, request, object_id)))

    return view


def enqueue_verify(model_admin: BackupRunAdmin, request: HttpRequest, run: BackupRun, *, drill: bool) -> None:
    backup_run_verify_enqueue(run_id=run.pk, drill=drill)
    model_admin.log_change(request, run, Message(gettext_noop("Restore drill requested.") if drill
                                                  else gettext_noop("Verification requested.")))


def verify(model_admin: BackupRunAdmin, *, drill: bool) -> View:
    @require_POST
    def view(request: HttpRequest, object_id: int) -> HttpResponse:
        run = _get_run(model_admin, request, object_id)
        if not model_admin.has_run_backup_permission(request):
            raise PermissionDenied
        page = reverse("admin:backups_backuprun_change", args=[run.pk])
        if run.status != BackupRun.Status.SUCCEEDED:
            model_admin.message_user(request, _("Only a successful backup can be checked."), messages.ERROR)
            return HttpResponseRedirect(page)
        enqueue_verify(model_admin, request, run, drill=drill)
        model_admin.message_user(
            request,
            _("Restore drill of backup #%(id)s queued; the result appears on this page.") % {"id": run.pk}
            if drill
            else _("Verification of backup #%(id)s queued; the result appears on this page.") % {"id": run.pk},
        )
        return HttpResponseRedirect(page)

    return view


def pin(model_admin: BackupRunAdmin, *, pinned: bool) -> View:
    @require_POST
    def view(request: HttpRequest, object_id: int) -> HttpResponse:
        run = _get_run(model_admin, request, object_id)
        if not model_admin.has_run_backup_permission(request):
            raise PermissionDenied
        if backup_runs_set_pinned(runs=[run], pinned=pinned):
            model_admin.log_change(
                request, run, Message(gettext_noop("Pinned") if pinned else gettext_noop("Unpinned")))
        model_admin.message_user(
            request,
            _("Backup #%(id)s is pinned: the retention policy never deletes it.") % {"id": run.pk}
            if pinned
            else _("Backup #%(id)s is no longer pinned.") % {"id": run.pk},
        )
        return HttpResponseRedirect(reverse("admin:backups_backuprun_change", args=[run.pk]))

    return view


def restore(model_admin: BackupRunAdmin) -> View:
    @require_http_methods(["GET", "POST"])
    def view(request: HttpRequest, object_id: int) -> HttpResponse:
        run = _get_run(model_admin, request, object_id)
        if not model_admin.has_restore_backup_permission(request):
            raise PermissionDenied
        page = reverse("admin:backups_backuprun_change", args=[run.pk])
        if run.status != BackupRun.Status.SUCCEEDED:
            model_admin.message_user(request, _("Only a successful backup can be restored."), messages.ERROR)
            return HttpResponseRedirect(page)
        expected = restore_confirmation_word(run)
        error = ""
        if request.method == "POST":
            typed = request.POST.get("confirmation", "").strip()
            if typed == expected:
                return _start_restore(model_admin, request, run)
            error = _("You typed %(typed)r; type %(expected)s exactly to restore.") % {
                "typed": typed,
                "expected": expected,
            }
        context = {
            **model_admin.admin_site.each_context(request),
            "opts": model_admin.opts,
            "title": _("Restore backup #%(id)s?") % {"id": run.pk},
            "run": run,
            "overwrites": restore_overwrites(run),
            "expected": expected,
            "error": error,
        }
        return TemplateResponse(
            request, "admin/backups/backuprun/restore_confirmation.html", context, status=400 if error else 200
        )

    return view


def _start_restore(model_admin: BackupRunAdmin, request: HttpRequest, run: BackupRun) -> HttpResponse:
    try:
        with transaction.atomic():
            restore_record = restore_run_enqueue(run_id=run.pk, user=request.user)
    except RestoreBusy as exc:
        model_admin.message_user(
            request, format_html("{} {} {}", _("Nothing was started."), str(exc), _restore_link(exc.other)),
            messages.WARNING)
        return HttpResponseRedirect(reverse("admin:backups_backuprun_change", args=[run.pk]))
    model_admin.log_change(request, run, Message(gettext_noop("Restore #%(id)s requested."), {"id": restore_record.pk}))
    restore_admin = model_admin.admin_site._registry[RestoreRun]
    restore_admin.log_addition(request, restore_record, Message(gettext_noop("Restore requested from the admin.")))
    model_admin.message_user(
        request,
        _("Restore #%(id)s of backup #%(run)s queued: a safety backup is taken first.")
        % {"id": restore_record.pk, "run": run.pk},
    )
    return HttpResponseRedirect(reverse("admin:backups_restorerun_change", args=[restore_record.pk]))
