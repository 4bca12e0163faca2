"""One metric per label set, read from the JSON file BENCH_CONDITION_FILE ({"label": value, ...}) at each snapshot."""

from __future__ import annotations

import json
import os
from pathlib import Path

from monitoring.checks.base import MetricValue
from monitoring.registry import metric


@metric
def bench_condition() -> list[MetricValue]:
    path = Path(os.environ.get("BENCH_CONDITION_FILE", "/nonexistent"))
    values = json.loads(path.read_text()) if path.exists() else {}
    return [MetricValue("bench_condition", float(value), {"case": case}, "Set by bench/alerting_latency.py.")
            for case, value in sorted(values.items())]
