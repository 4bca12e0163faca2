from __future__ import annotations

import json

from django.core.management.base import BaseCommand
from django.utils.translation import gettext as _

from backups.management.commands._output import human_bytes
from backups.selectors import backup_run_as_dict, backup_runs_recent


class Command(BaseCommand):
    help = _("List backup runs, newest first.")

    def add_arguments(self, parser) -> None:
        parser.add_argument("--json", action="store_true", help=_("Print the runs as JSON."))

    def handle(self, *args, json: bool, **options) -> None:
        runs = list(backup_runs_recent())
        if json:
            self.stdout.write(_dumps([backup_run_as_dict(run) for run in runs]))
            return
        if not runs:
            self.stdout.write(_("No backups yet."))
            return
        self.stdout.write(
            f"{_('ID'):>6}  {_('STATUS'):<10} {_('TRIGGER'):<9} {_('CREATED'):<20} {_('SIZE'):>10}  {_('VERIFIED')}"
        )
        for run in runs:
            self.stdout.write(
                f"{run.pk:>6}  {run.status:<10} {run.trigger:<9} {run.created_at:%Y-%m-%d %H:%M:%S}  "
                f"{human_bytes(run.total_bytes):>10}  {run.verification or '-'}"
            )


def _dumps(data) -> str:
    return json.dumps(data, indent=2, sort_keys=True)
