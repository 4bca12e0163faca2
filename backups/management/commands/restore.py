from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from backups.management.commands._output import ProgressPrinter, cli_actor
from backups.models import BackupRun, RestoreRun
from backups.physical.cli import add_physical_arguments, is_physical, physical_restore_command
from backups.postgres import settings_dict_from_url
from backups.selectors import restore_confirmation_word
from backups.services.restore import RestoreBusy, restore_run_create_and_execute


class Command(BaseCommand):
    help = _("Restore a backup run (a safety backup of the target is taken first).")
    # Only the backup settings' checks (backups/system_checks.py), not the URLconf/admin/model checks: a quick start.
    requires_system_checks = ["backups"]

    def add_arguments(self, parser) -> None:
        parser.add_argument("run_id", type=int, nargs="?", help=_("The backup run to restore."))
        parser.add_argument(
            "--into", metavar="DATABASE_URL", help=_("Restore the database into this new or empty one.")
        )
        parser.add_argument("--only", metavar="KIND[:NAME]", help=_("Restore only these artifacts."))
        parser.add_argument("--yes", action="store_true", help=_("Do not ask for confirmation."))
        add_physical_arguments(parser)  # point-in-time restores through pgBackRest: backups/physical/cli.py

    def handle(self, *args, run_id: int, into: str | None, only: str | None, yes: bool, **options) -> None:
        if is_physical(options):
            physical_restore_command(self, yes=yes, **options)
            return
        if run_id is None:
            raise CommandError(
                _("Give the backup run to restore, or a point in time (--to-time, --latest, --to-name).")
            )
        run = BackupRun.objects.filter(pk=run_id).first()
        # Checked before asking anything and before any record is made: a typo is one line, not a refused restore.
        if run is None:
            raise CommandError(_("There is no backup #%(id)s.") % {"id": run_id})
        if run.status != BackupRun.Status.SUCCEEDED:
            raise CommandError(_("Backup #%(id)s is %(status)s: only a successful backup can be restored.")
                               % {"id": run_id, "status": run.get_status_display()})
        if not yes:
            expected = self._confirmation_word(run_id, into, only)
            what = (_("the database %(name)s") % {"name": expected} if expected != "restore"
                    else _("the files and volumes it holds, in place"))
            self.stdout.write(
                _("This overwrites %(what)s with backup #%(id)s. Type %(word)s to go on:")
                % {"what": what, "id": run_id, "word": expected}
            )
            try:
                answer = input().strip()
            except EOFError:
                answer = ""
            if answer != expected:
                raise CommandError(_("Restore cancelled; nothing was touched."))
        # on stderr like the backup's: a bar redrawn on a terminal, a plain line every few seconds otherwise
        self.printer = ProgressPrinter(self.stderr, _("restore of backup #%(id)s") % {"id": run_id})
        try:
            try:
                restore = restore_run_create_and_execute(
                    run_id=run_id, into=into, only=only, actor=cli_actor(), log=self._progress,
                    on_progress=lambda heartbeat: self.printer.update(heartbeat.figures()),
                )
            finally:
                self.printer.finish()
        except RestoreBusy as exc:
            raise CommandError(str(exc)) from None
        if restore.status != RestoreRun.Status.SUCCEEDED:
            raise CommandError(
                _("Restore #%(id)s %(status)s: %(error)s")
                % {"id": restore.pk, "status": restore.get_status_display(), "error": restore.error}
            )
        extra = _(" (safety backup #%(id)s)") % {"id": restore.safety_run_id} if restore.safety_run_id else ""
        self.stdout.write(_("Restore #%(id)s succeeded%(extra)s.") % {"id": restore.pk, "extra": extra})

    def _progress(self, line: str) -> None:
        # the outcome line is the CommandError (or the success line) below: not printed twice
        if not line.startswith(("refused: ", "failed: ")):
            self.printer.line(line, out=self.stdout)

    @staticmethod
    def _confirmation_word(run_id: int, into: str | None, only: str | None) -> str:
        if into:
            return str(settings_dict_from_url(into)["NAME"])
        return restore_confirmation_word(BackupRun.objects.filter(pk=run_id).first(), only=only)
