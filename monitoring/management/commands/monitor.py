"""`manage.py monitor [--json]`: run the checks once; exit 0 ok, 1 warning, 2 critical, 3 unknown (Nagios codes).

The first line is the Nagios summary with performance data (monitoring/nagios.py), the table follows. Anything that
keeps the checks from running (an unknown check name, a bad option, an error before the checks answer) is one line
`UNKNOWN - ...` and exit 3, never a green. Failures before Django starts (bad settings) are the wrapper's to report:
scripts/server/monitor.sh.
"""

from __future__ import annotations

import json
from typing import NoReturn

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser
from django.utils.translation import gettext, gettext_lazy
from django.utils.translation import gettext as _

from monitoring.nagios import EXIT_CODES, UNKNOWN, plain, summary_line, unknown_line


class Command(BaseCommand):
    @property
    def help(self) -> str:  # in the reader's language when asked; argparse wants a str, not a lazy string
        return gettext("Run every health check once and print a Nagios summary line and a table (or JSON); "
                       "exit 0 ok, 1 warning, 2 critical, 3 unknown.")
    # Fast: no system checks and no migration check on the path of a probe that may run every minute.
    requires_system_checks: list[str] = []
    requires_migrations_checks = False

    def create_parser(self, prog_name: str, subcommand: str, **kwargs) -> CommandParser:
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        if parser.called_from_command_line:
            parser.error = self._usage_error  # argparse would exit 2, which Nagios reads as CRITICAL
        return parser

    def _usage_error(self, message: str) -> NoReturn:
        self.stdout.write(unknown_line(_("bad arguments: %(error)s") % {"error": message}))
        raise SystemExit(UNKNOWN)

    def add_arguments(self, parser) -> None:
        parser.add_argument("--json", action="store_true", help=gettext_lazy("print the results as JSON"))
        parser.add_argument("--check", action="append", dest="checks", metavar="NAME",
                            help=gettext_lazy("run only this check (repeatable)"))
        parser.add_argument("--local", action="store_true", help=gettext_lazy("leave out the reports of other hosts"))

    def handle(self, *args, json: bool = False, checks: list[str] | None = None, local: bool = False, **options):
        try:
            if checks:
                self._refuse_unknown(checks)
            from monitoring.runner import health_report_collect

            report = health_report_collect(names=checks, hosts=not local)
            if not report.results:  # every check switched off: "OK - 0 checks ok" would be a green nobody checked
                self.stdout.write(unknown_line(_("no check to run (see MONITOR_DISABLED_CHECKS)")))
                raise SystemExit(UNKNOWN)
            output = _as_json(report) if json else _as_text(report)
        except SystemExit:
            raise
        except Exception as exc:  # Nagios reads any other failure as UNKNOWN, not as a warning
            self.stdout.write(unknown_line(f"{type(exc).__name__}: {exc}"))
            raise SystemExit(UNKNOWN) from exc
        self.stdout.write(output)
        raise SystemExit(EXIT_CODES[report.status])

    def _refuse_unknown(self, names: list[str]) -> None:
        from monitoring.registry import check_names

        known = check_names()
        missing = [name for name in names if name not in known]
        if not missing:
            return
        disabled = [name for name in missing if name in settings.MONITOR_DISABLED_CHECKS]
        if disabled:
            reason = _("check %(names)s switched off by MONITOR_DISABLED_CHECKS") % {"names": ", ".join(disabled)}
        else:
            reason = _("unknown check %(names)s; known checks: %(known)s") % {
                "names": ", ".join(missing), "known": ", ".join(known)}
        self.stdout.write(unknown_line(reason))
        raise SystemExit(UNKNOWN)


def _as_text(report) -> str:
    rows = [(result.label, str(result.status).upper(), f"{result.duration * 1000:.0f} ms",
             plain(result.display_message)) for result in report.results]
    widths = [max([len(row[index]) for row in rows] + [5]) for index in range(3)]
    lines = [summary_line(report.results, report.status, report.duration)]
    lines += [f"{row[0]:<{widths[0]}}  {row[1]:<{widths[1]}}  {row[2]:>{widths[2]}}  {row[3]}".rstrip()
              for row in rows]
    return "\n".join(lines)


def _as_json(report) -> str:
    return json.dumps({
        "status": str(report.status),
        "duration_ms": round(report.duration * 1000, 2),
        "checks": [result.to_dict() for result in report.results],
    }, indent=2, default=str)
