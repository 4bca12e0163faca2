from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from backups.management.commands._output import ProgressPrinter
from backups.models import BackupRun
from backups.selectors import backup_run_latest_succeeded
from backups.services.verify import backup_run_verify


class Command(BaseCommand):
    help = _("Recompute every artifact's sha256 from storage; --drill also restores into a scratch database.")
    # Only the backup settings' checks (backups/system_checks.py), not the URLconf/admin/model checks: a quick start.
    requires_system_checks = ["backups"]

    def add_arguments(self, parser) -> None:
        parser.add_argument("run_id", nargs="?", type=int, help=_("The backup run to verify."))
        parser.add_argument("--latest", action="store_true", help=_("Verify the latest succeeded backup."))
        parser.add_argument("--drill", action="store_true", help=_("Restore into a scratch database and compare."))
        parser.add_argument("--json", action="store_true", help=_("Print the outcome as JSON."))

    def handle(self, *args, run_id: int | None, latest: bool, drill: bool, json: bool, **options) -> None:
        if (run_id is None) == (not latest):
            raise CommandError(_("Give a RUN_ID or --latest."))
        if latest:
            run = backup_run_latest_succeeded()
            if run is None:
                raise CommandError(_("There is no succeeded backup to verify."))
            run_id = run.pk
        elif not BackupRun.objects.filter(pk=run_id).exists():
            raise CommandError(_("There is no backup #%(id)s.") % {"id": run_id})
        # a drill's progress on stderr (so --json on stdout stays parseable): a bar on a terminal, plain lines otherwise
        printer = ProgressPrinter(self.stderr, _("drill of backup #%(id)s") % {"id": run_id})
        try:
            result = backup_run_verify(run_id=run_id, drill=drill,
                                       on_progress=lambda heartbeat: printer.update(heartbeat.figures()))
        finally:
            printer.finish()
        if json:
            payload = {
                "id": result.run.pk,
                "ok": result.ok,
                "verification": result.run.verification,
                "problems": result.problems,
                "checked": result.checked,
                "drill_rto_seconds": result.drill_seconds,
            }
            self.stdout.write(_dumps(payload))
        else:
            for line in result.checked:
                self.stdout.write(line)
            for line in result.problems:
                self.stderr.write(line)
        if not result.ok:
            raise CommandError(_("Backup #%(id)s failed verification.") % {"id": result.run.pk})
        if not json:
            self.stdout.write(_("Backup #%(id)s verified.") % {"id": result.run.pk})


def _dumps(data) -> str:
    return json.dumps(data, indent=2, sort_keys=True)
