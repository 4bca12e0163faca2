"""Nagios plugin output for `manage.py monitor`: the summary and performance data on the first line.

Follows the Monitoring Plugins guidelines (https://www.monitoring-plugins.org/doc/guidelines.html): the first line
is `STATE - text | perfdata`, each performance datum `'label'=value[UOM];[warn];[crit];[min];[max]`, and no later
line may hold a `|` (it would start more performance data), so messages have theirs replaced.
"""

from __future__ import annotations

import math

from django.utils.translation import ngettext

from monitoring.checks.base import CheckOutcome, MetricValue
from monitoring.models import SEVERITY, Status

EXIT_CODES = {Status.OK: 0, Status.WARNING: 1, Status.CRITICAL: 2}
UNKNOWN = 3
# Nagios keeps a few KB of output: each failing check's message in the summary is cut to this many characters.
MESSAGE_LIMIT = 200
STATE_NAMES = {0: "OK", 1: "WARNING", 2: "CRITICAL", UNKNOWN: "UNKNOWN"}

# Prometheus-style unit suffixes of our sample names -> the plugin guidelines' units of measure.
_UNITS = {"_seconds": ("s", 0.0, None), "_percent": ("%", 0.0, 100.0), "_bytes": ("B", 0.0, None),
          "_total": ("c", 0.0, None)}


def plain(text: str, *, limit: int | None = None) -> str:
    """One line without `|`: safe anywhere in plugin output; cut to `limit` characters."""
    line = " ".join(str(text).replace("|", "/").split())
    if limit is not None and len(line) > limit:
        line = line[:limit - 3] + "..."
    return line


def unknown_line(reason: str) -> str:
    return f"UNKNOWN - {plain(reason, limit=MESSAGE_LIMIT * 2)}"


def perf_label(text: str) -> str:
    if any(char in text for char in " ='") or not text:
        return "'" + text.replace("'", "''") + "'"
    return text


def perf_number(value: float) -> str:
    text = f"{value:.6f}".rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


def perf_datum(label: str, value: float, unit: str = "", minimum: float | None = None,
               maximum: float | None = None) -> str:
    bounds = [perf_number(bound) if bound is not None else "" for bound in (minimum, maximum)]
    datum = f"{perf_label(label)}={perf_number(value)}{unit};;;{bounds[0]};{bounds[1]}"
    return datum.rstrip(";")


def _sample_datum(prefix: str, sample: MetricValue) -> str | None:
    try:
        value = float(sample.value)
    except (TypeError, ValueError):
        return None
    if not math.isfinite(value):
        return None
    unit, minimum, maximum = next((spec for suffix, spec in _UNITS.items() if sample.name.endswith(suffix)),
                                  ("", None, None))
    labels = ",".join(f"{key}={sample.labels[key]}" for key in sorted(sample.labels))
    name = f"{prefix}.{sample.name}" + (f"{{{labels}}}" if labels else "")
    return perf_datum(name, value, unit, minimum, maximum)


def performance_data(results: list[CheckOutcome], duration: float) -> str:
    """The run's duration, then each check's duration and the values it sampled."""
    data = [perf_datum("duration", duration, "s", 0.0)]
    for result in results:
        data.append(perf_datum(f"{result.label}.duration", result.duration, "s", 0.0))
        data.extend(datum for sample in result.samples if (datum := _sample_datum(result.label, sample)))
    return " ".join(data)


def summary_line(results: list[CheckOutcome], status: Status, duration: float) -> str:
    """`OK - 4 checks ok | ...`, or the state and each check that is not ok, the worst first."""
    failing = sorted((result for result in results if result.status != Status.OK),
                     key=lambda result: -SEVERITY[result.status])
    if failing:
        text = "; ".join(f"{result.label}: {plain(result.display_message, limit=MESSAGE_LIMIT) or result.status}"
                         for result in failing)
    else:
        text = ngettext("%(count)d check ok", "%(count)d checks ok", len(results)) % {"count": len(results)}
    return f"{STATE_NAMES[EXIT_CODES[status]]} - {plain(text)} | {performance_data(results, duration)}"
