from __future__ import annotations

import argparse
import json

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from backups.management.commands._output import human_bytes
from backups.selectors import backup_run_as_dict, backup_runs_page

DEFAULT_LIMIT = 50


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(_("expected a whole number of 1 or more, got '%(value)s'") % {"value": text})
    return value


class Command(BaseCommand):
    help = _(
        "List backup runs, newest first: the newest 50 unless --limit says otherwise; --before ID pages on to older "
        "ones."
    )
    # Only the backup settings' checks (backups/system_checks.py), not the URLconf/admin/model checks: a quick start.
    requires_system_checks = ["backups"]

    def add_arguments(self, parser) -> None:
        parser.add_argument("--json", action="store_true", help=_("Print the runs as JSON."))
        parser.add_argument(
            "--limit",
            type=positive_int,
            default=DEFAULT_LIMIT,
            help=_("How many runs to list (default %(default)s)."),
        )
        parser.add_argument(
            "--before",
            type=positive_int,
            metavar="ID",
            help=_("List the runs older than backup #ID (the next page: the last ID of the previous one)."),
        )
        parser.add_argument("--all", action="store_true", dest="all_runs", help=_("List every run (no limit)."))

    def handle(self, *args, json: bool, limit: int, before: int | None, all_runs: bool, **options) -> None:
        try:
            page = backup_runs_page(limit=None if all_runs else limit, before=before, with_artifacts=json)
        except LookupError:
            raise CommandError(_("There is no backup #%(id)s.") % {"id": before}) from None
        if json:
            self.stdout.write(_dumps([backup_run_as_dict(run) for run in page.runs]))
            if page.more:
                self.stderr.write(_("More runs are older: add --before %(id)s.") % {"id": page.runs[-1].pk})
            return
        if not page.runs:
            self.stdout.write(_("No older backups.") if before else _("No backups yet."))
            return
        lines = [
            f"{_('ID'):>6}  {_('STATUS'):<10} {_('TRIGGER'):<9} {_('CREATED'):<20} {_('SIZE'):>10}  {_('VERIFIED')}\n"
        ]
        for run in page.runs:
            lines.append(
                f"{run.pk:>6}  {run.status:<10} {run.trigger:<9} {run.created_at:%Y-%m-%d %H:%M:%S}  "
                f"{human_bytes(run.total_bytes):>10}  {run.verification or '-'}\n"
            )
        self.stdout.write("".join(lines), ending="")
        if page.more:
            self.stdout.write(
                _("Newest %(count)s shown; older ones: listbackups --before %(id)s")
                % {"count": len(page.runs), "id": page.runs[-1].pk}
            )


def _dumps(data) -> str:
    return json.dumps(data, indent=2, sort_keys=True)
