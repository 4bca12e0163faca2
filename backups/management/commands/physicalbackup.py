from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from backups.management.commands._output import cli_actor, human_bytes
from backups.models import BackupRun
from backups.physical import BACKUP_TYPES
from backups.physical.backup import physical_backup_create, physical_backup_enqueue
from backups.physical.catalog import physical_catalog_reindex
from backups.physical.command import PgBackRestError
from backups.physical.config import PhysicalNotConfigured
from backups.physical.setup import stanza_check, stanza_setup
from backups.selectors import backup_run_as_dict
from backups.services.backup import BackupBusy, backup_run_execute


class Command(BaseCommand):
    help = _("Take a physical backup through pgBackRest (full, diff or incr), create the stanza, check it, or "
             "rebuild the physical catalog from pgBackRest's own.")
    # Only the backup settings' checks (backups/system_checks.py), not the URLconf/admin/model checks: a quick start.
    requires_system_checks = ["backups"]

    def add_arguments(self, parser) -> None:
        parser.add_argument("--type", dest="backup_type", choices=BACKUP_TYPES, default="incr",
                            help=_("Backup type (pgBackRest takes a full one when none exists yet)."))
        parser.add_argument("--async", dest="run_async", action="store_true", help=_("Enqueue on the backups queue."))
        parser.add_argument("--json", action="store_true", help=_("Print the run as JSON."))
        parser.add_argument("--setup", action="store_true", help=_("Create the stanza (stanza-create), then check."))
        parser.add_argument("--check", action="store_true", help=_("Run pgbackrest check (archiving and repository)."))
        parser.add_argument("--reindex", action="store_true", help=_("Rebuild the physical catalog from pgBackRest."))

    def handle(self, *args, backup_type: str, run_async: bool, json: bool, setup: bool, check: bool, reindex: bool,
               **options) -> None:
        try:
            if setup:
                stanza_setup()
                self.stdout.write(_("Stanza created and checked: WAL archiving reaches the repository."))
                return
            if check:
                stanza_check()
                self.stdout.write(_("pgbackrest check passed: WAL archiving reaches the repository."))
                return
            if reindex:
                report = physical_catalog_reindex()
                self.stdout.write(_("Re-indexed %(count)s physical backup(s) from pgBackRest; %(removed)s record(s) "
                                    "of sets pgBackRest no longer has removed.")
                                  % {"count": len(report.runs), "removed": report.removed})
                return
            if run_async:
                run = physical_backup_enqueue(backup_type=backup_type, trigger=BackupRun.Trigger.CLI,
                                              actor=cli_actor())
                self.stdout.write(_dump(backup_run_as_dict(run)) if json else str(run.pk))
                return
            run = physical_backup_create(backup_type=backup_type, trigger=BackupRun.Trigger.CLI, actor=cli_actor())
        except (BackupBusy, PgBackRestError, PhysicalNotConfigured) as exc:
            raise CommandError(str(exc)) from None

        def progress(state) -> None:
            self.stderr.write(f"backup #{run.pk}: {state.current or '…'} {human_bytes(state.bytes_done)}")

        result = backup_run_execute(run_id=run.pk, on_progress=progress)
        if result is None:
            raise CommandError(_("Backup #%(id)s was taken by another process.") % {"id": run.pk})
        if json:
            self.stdout.write(_dump(backup_run_as_dict(result)))
        elif result.status == BackupRun.Status.SUCCEEDED:
            artifact = result.artifacts.first()
            self.stdout.write(_("Physical backup #%(id)s succeeded: pgBackRest set %(label)s (%(type)s), %(size)s "
                                "stored.") % {"id": result.pk, "label": artifact.path if artifact else "?",
                                              "type": result.physical_type, "size": human_bytes(result.total_bytes)})
        if result.status != BackupRun.Status.SUCCEEDED:
            raise CommandError(_("Backup #%(id)s failed: %(error)s") % {"id": result.pk, "error": result.error})


def _dump(data) -> str:
    return json.dumps(data, indent=2, sort_keys=True)
