"""`manage.py monitor [--json]`: run the checks once; exit 0 ok, 1 warning, 2 critical (Nagios plugin codes)."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand
from django.utils.translation import gettext_lazy as _

EXIT_CODES = {"ok": 0, "warning": 1, "critical": 2}
UNKNOWN = 3


class Command(BaseCommand):
    help = _("Run every health check once and print a table (or JSON); exit 0 ok, 1 warning, 2 critical.")
    # Fast: no system checks and no migration check on the path of a probe that may run every minute.
    requires_system_checks: list[str] = []
    requires_migrations_checks = False

    def add_arguments(self, parser) -> None:
        parser.add_argument("--json", action="store_true", help=_("print the results as JSON"))
        parser.add_argument("--check", action="append", dest="checks", metavar="NAME",
                            help=_("run only this check (repeatable)"))
        parser.add_argument("--local", action="store_true", help=_("leave out the reports of other hosts"))

    def handle(self, *args, json: bool = False, checks: list[str] | None = None, local: bool = False, **options):
        from monitoring.runner import health_report_collect

        try:
            report = health_report_collect(names=checks, hosts=not local)
        except Exception as exc:  # Nagios reads any other failure as UNKNOWN, not as a warning
            self.stderr.write(f"UNKNOWN: {type(exc).__name__}: {exc}")
            raise SystemExit(UNKNOWN) from exc
        status = str(report.status)
        if json:
            self.stdout.write(_dumps({
                "status": status,
                "duration_ms": round(report.duration * 1000, 2),
                "checks": [result.to_dict() for result in report.results],
            }))
        else:
            rows = [(result.label, str(result.status).upper(), f"{result.duration * 1000:.0f} ms", result.message)
                    for result in report.results]
            widths = [max([len(row[index]) for row in rows] + [5]) for index in range(3)]
            for row in rows:
                self.stdout.write(f"{row[0]:<{widths[0]}}  {row[1]:<{widths[1]}}  {row[2]:>{widths[2]}}  {row[3]}")
            self.stdout.write(f"{status.upper()} ({report.duration * 1000:.0f} ms)")
        raise SystemExit(EXIT_CODES[status])


def _dumps(data: dict) -> str:
    return json.dumps(data, indent=2, default=str)
