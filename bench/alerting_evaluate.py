"""How the alert evaluator scales with the number of label sets (one disk metric per label set).

Prints the time per evaluation for a small baseline (10 label sets) and larger workloads measured in the same run,
and the ratio of the cost per label set against the baseline (≈1 means linear scaling). Uses its own throw-away
database: TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/<name> (the bench creates and drops test_<name>).

    .venv/bin/python bench/alerting_evaluate.py
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")

import django  # noqa: E402

django.setup()

from django.db import connection  # noqa: E402

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def observations(count: int, value: float, at: datetime) -> list:
    from alerting.observations import Observation

    return [
        Observation(
            kind="metric",
            name="disk_used_percent",
            labels={"host": f"h{i}", "path": "/"},
            value=value,
            status=None,
            at=at,
        )
        for i in range(count)
    ]


def measure(count: int, rounds: int = 5) -> tuple[float, float]:
    """(ms per steady-state evaluation with every alert firing, ms per evaluation where every alert fires anew)."""
    from alerting.models import Alert, AlertRule
    from alerting.services import alerts_evaluate

    AlertRule.objects.all().delete()
    AlertRule.objects.create(
        name="disk",
        metric_name="disk_used_percent",
        threshold=90,
        for_duration=timedelta(0),
        resolve_after=timedelta(0),
        repeat_interval=None,
    )
    flips, steady = [], []
    for round_ in range(rounds):
        now = T0 + timedelta(minutes=2 * round_)
        started = time.perf_counter()
        alerts_evaluate(observations=observations(count, 95, now), now=now)  # all fire
        flips.append(time.perf_counter() - started)
        started = time.perf_counter()
        alerts_evaluate(observations=observations(count, 96, now), now=now)  # all still firing
        steady.append(time.perf_counter() - started)
        alerts_evaluate(observations=observations(count, 10, now), now=now + timedelta(minutes=1))  # all resolve
    assert Alert.objects.count() == count
    return statistics.median(steady) * 1000, statistics.median(flips) * 1000


def main() -> None:
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    try:
        base_steady, base_flip = measure(10)
        print(f"baseline   10 label sets: steady {base_steady:8.1f} ms   all firing anew {base_flip:8.1f} ms")
        for count in (100, 1000):
            steady, flip = measure(count)
            print(
                f"workload {count:4d} label sets: steady {steady:8.1f} ms   all firing anew {flip:8.1f} ms   "
                f"cost per label set vs baseline: steady ×{steady / count / (base_steady / 10):.2f}, "
                f"firing ×{flip / count / (base_flip / 10):.2f}"
            )
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


if __name__ == "__main__":
    main()
