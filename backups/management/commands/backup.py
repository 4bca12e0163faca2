from __future__ import annotations

import json
import signal

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from backups.management.commands._output import ProgressPrinter, cli_actor, human_bytes
from backups.models import BackupRun
from backups.physical.cli import physical_reindex
from backups.selectors import backup_run_as_dict
from backups.services.backup import BackupBusy, backup_run_create, backup_run_enqueue, backup_run_execute
from backups.services.catalog import backup_catalog_reindex
from backups.services.failure import BackupInterrupted


class Command(BaseCommand):
    help = _("Back up the portal now (databases, files, Docker volumes), or re-index the catalog from storage.")
    # Only the backup settings' checks (backups/system_checks.py), not the URLconf/admin/model checks: a quick start.
    requires_system_checks = ["backups"]

    def add_arguments(self, parser) -> None:
        parser.add_argument("--async", dest="run_async", action="store_true", help=_("Enqueue on the backups queue."))
        parser.add_argument("--json", action="store_true", help=_("Print the run as JSON."))
        parser.add_argument("--reindex", action="store_true", help=_("Rebuild the catalog from the manifests."))
        parser.add_argument("--only", action="append", metavar="KIND[:NAME]",
                            help=_("Back up only this source (e.g. postgres:billing); repeat for several."))

    def handle(self, *args, run_async: bool, json: bool, reindex: bool, only: list[str] | None = None,
               **options) -> None:
        as_json = json
        if reindex:
            report = backup_catalog_reindex()
            runs = report.runs + physical_reindex(self)  # the physical catalog, from pgBackRest's own (when configured)
            if as_json:
                self.stdout.write(_json([backup_run_as_dict(run) for run in runs]))
            else:
                self.stdout.write(_("Re-indexed %(count)s backup(s) from storage.") % {"count": len(runs)})
            if report.skipped:  # on stderr with --json, so the JSON on stdout stays parseable
                out = self.stderr if as_json else self.stdout
                count = len(report.skipped)
                out.write(_("Skipped %(count)s folder(s) or file(s) that could not be read:") % {"count": count})
                for skipped in report.skipped:
                    out.write(f"  {skipped.folder}: {skipped.reason}")
            return
        try:
            if run_async:
                run = backup_run_enqueue(trigger=BackupRun.Trigger.CLI, actor=cli_actor(), only=only)
                self.stdout.write(_json(backup_run_as_dict(run)) if as_json else str(run.pk))
                return
            run = backup_run_create(trigger=BackupRun.Trigger.CLI, actor=cli_actor(), only=only)
        except BackupBusy as exc:
            raise CommandError(str(exc)) from None

        # on stderr, so --json output on stdout stays parseable: a bar on a terminal, plain lines otherwise
        printer = ProgressPrinter(self.stderr, _("backup #%(id)s") % {"id": run.pk})

        def progress(state) -> None:
            printer.update(state.figures(), state.current)

        try:
            try:
                result = backup_run_execute(run_id=run.pk, on_progress=progress)
            finally:
                printer.finish()
        except (BackupInterrupted, KeyboardInterrupt) as exc:
            # The run is already failed and its files removed; exit as a shell expects of that signal.
            signum = exc.signum if isinstance(exc, BackupInterrupted) else signal.SIGINT
            raise CommandError(
                _("Backup #%(id)s was interrupted by %(signal)s; it is marked failed and its files were removed.")
                % {"id": run.pk, "signal": signal.Signals(signum).name},
                returncode=128 + signum,
            ) from None
        if result is None:
            raise CommandError(_("Backup #%(id)s was taken by another process.") % {"id": run.pk})
        if as_json:
            self.stdout.write(_json(backup_run_as_dict(result)))
        elif result.status == BackupRun.Status.SUCCEEDED:
            self.stdout.write(
                _("Backup #%(id)s succeeded: %(count)s file(s), %(size)s stored in %(prefix)s.")
                % {
                    "id": result.pk,
                    "count": result.artifacts.count(),
                    "size": human_bytes(result.total_bytes),
                    "prefix": result.storage_prefix,
                }
            )
        if result.status != BackupRun.Status.SUCCEEDED:
            raise CommandError(_("Backup #%(id)s failed: %(error)s") % {"id": result.pk, "error": result.error})


def _json(data) -> str:
    return json.dumps(data, indent=2, sort_keys=True)
