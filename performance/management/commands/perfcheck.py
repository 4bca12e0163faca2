"""`manage.py perfcheck`: probe now, print p50/p95 against the budget, exit 1 on any breach or failed probe.

The percentiles are of successful samples only ("-" without one): a refused connection's time is no latency, and
a target whose round failed is a failure whatever its figures.
"""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from performance.models import PerfResult
from performance.selectors import WindowStats, perf_targets_enabled
from performance.services import perf_target_probe, perf_targets_sync


class Command(BaseCommand):
    help = _(
        "Probe every enabled performance target now (or the named ones), print p50/p95 against each budget, "
        "and exit non-zero when a budget is breached or a probe fails."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--target", action="append", dest="targets", metavar="NAME", help=_("only this target"))
        parser.add_argument("--samples", type=int, help=_("samples per target instead of each target's own"))
        parser.add_argument("--json", action="store_true", dest="as_json", help=_("print JSON instead of a table"))

    def handle(self, *args, targets: list[str] | None, samples: int | None, as_json: bool, **options) -> None:
        if samples is not None and samples < 1:
            raise CommandError(_("--samples must be at least 1"))
        perf_targets_sync()
        selected = perf_targets_enabled(names=targets)
        missing = set(targets or []) - {target.name for target in selected}
        if missing:
            raise CommandError(_("no such target: %s") % ", ".join(sorted(missing)))
        rows = []
        for target in selected:
            results = perf_target_probe(target_id=target.pk, samples=samples, require_enabled=not targets) or []
            rows.append(_row(target, results))
        if as_json:
            self.stdout.write(_dumps(rows))
        else:
            self._print_table(rows)
        failing = [row for row in rows if row["verdict"] != "ok"]
        if failing:
            raise SystemExit(1)

    def _print_table(self, rows: list[dict]) -> None:
        headers = [_("target"), _("kind"), _("samples"), _("p50 ms"), _("p95 ms"), _("budget ms"), _("verdict")]
        table = [
            [
                row["target"],
                row["kind"],
                str(row["samples"]),
                _fmt(row["p50_ms"]),
                _fmt(row["p95_ms"]),
                str(row["budget_ms"]),
                row["verdict"] + (f" ({row['error']})" if row["error"] else ""),
            ]
            for row in rows
        ]
        widths = [max(len(str(cell)) for cell in column) for column in zip(headers, *table, strict=False)]
        for line in [headers, *table]:
            self.stdout.write("  ".join(str(cell).ljust(width) for cell, width in zip(line, widths, strict=False)))
        if not rows:
            self.stdout.write(_("No enabled targets."))


def _row(target, results: list[PerfResult]) -> dict:
    durations = [r.duration_ms for r in results if r.duration_ms is not None and r.outcome == PerfResult.Outcome.OK]
    failures = [r for r in results if r.outcome != PerfResult.Outcome.OK]
    stats = WindowStats.of(durations, len(failures))
    if not results:
        verdict, error = "skipped", _("another probe of this target is running")
    elif failures:
        verdict, error = ("unavailable" if failures[0].outcome == "unavailable" else "failed"), failures[0].error
    elif stats.p95_ms is not None and stats.p95_ms > target.budget_ms:
        verdict, error = "breached", ""
    else:
        verdict, error = "ok", ""
    return {
        "target": target.name,
        "kind": target.kind,
        "samples": len(results),
        "failures": len(failures),
        "p50_ms": stats.p50_ms,
        "p95_ms": stats.p95_ms,
        "p99_ms": stats.p99_ms,
        "budget_ms": target.budget_ms,
        "verdict": verdict,
        "error": error,
    }


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}"


def _dumps(rows: list[dict]) -> str:
    return json.dumps({"targets": rows, "ok": all(row["verdict"] == "ok" for row in rows)}, indent=2)
