from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from backups.physical.cli import physical_prune
from backups.services.retention import RetentionPolicy, backup_runs_prune


class Command(BaseCommand):
    help = _("Apply the retention policy: delete the backups it does not keep (files and records), saying why.")
    # Only the backup settings' checks (backups/system_checks.py), not the URLconf/admin/model checks: a quick start.
    requires_system_checks = ["backups"]

    def add_arguments(self, parser) -> None:
        parser.add_argument("--dry-run", action="store_true", help=_("Only print what would be kept and deleted."))

    def handle(self, *args, dry_run: bool, **options) -> None:
        policy = RetentionPolicy.from_settings()
        self.stdout.write(_("Retention policy: keep %(rules)s.") % {"rules": "; ".join(policy.describe())})
        report = backup_runs_prune(dry_run=dry_run, policy=policy)
        keep_word, delete_word = _("keep"), (_("would delete") if dry_run else _("delete"))
        lines = []
        for decision in report.decisions:
            run = decision.run
            verb = keep_word if decision.keep else delete_word
            # isoformat()[:16] is "YYYY-MM-DD HH:MM" at a tenth of strftime's cost (100,000 lines at a time).
            created = run.created_at.isoformat(" ", "minutes")[:16]
            lines.append(f"#{run.pk} {created} {run.status}: {verb} ({'; '.join(decision.reasons)})\n")
            if len(lines) == 1000:  # one write per thousand runs, not one per run
                self.stdout.write("".join(lines), ending="")
                lines = []
        self.stdout.write("".join(lines), ending="")
        if dry_run:
            self.stdout.write(
                _("Dry run: %(keep)s kept, %(delete)s would be deleted; nothing was touched.")
                % {"keep": len(report.decisions) - len(report.to_delete), "delete": len(report.to_delete)}
            )
            physical_prune(self, dry_run=True)
            return
        for run_id, problems in report.undeletable.items():
            for problem in problems:
                self.stderr.write(_("#%(id)s: could not delete %(problem)s") % {"id": run_id, "problem": problem})
        self.stdout.write(
            _("%(deleted)s backup(s) deleted, %(kept)s kept.")
            % {"deleted": len(report.deleted), "kept": len(report.decisions) - len(report.to_delete)}
        )
        physical_prune(self, dry_run=False)
        if report.undeletable:
            raise CommandError(
                _("%(count)s backup(s) could not be deleted completely; their records are kept.")
                % {"count": len(report.undeletable)}
            )
