"""How the alert evaluator scales with the number of label sets (one disk metric per label set).

Prints the time per evaluation for a small baseline (10 label sets) and larger workloads measured in the same run,
and the ratio of the cost per label set against the baseline (≈1 means linear scaling). Uses its own throw-away
database: TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/<name> (the bench creates and drops test_<name>).

    .venv/bin/python bench/alerting_evaluate.py              # 100, 1,000 and 3,000 label sets
    .venv/bin/python bench/alerting_evaluate.py 3000 10000   # other workloads

"steady" evaluates the same observations again (every alert firing, nothing to write); "new values" gives every
firing alert a new value (one bulk UPDATE); "all firing anew" fires every alert (transitions recorded in bulk).
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
from django.test.utils import CaptureQueriesContext  # noqa: E402

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


def measure(count: int, rounds: int = 5) -> tuple[float, float, float, int]:
    """Medians in ms: a steady evaluation (every alert firing, same observations again), one where every firing
    alert has a new value, one where every alert fires anew; and the UPDATE/INSERT/DELETE queries of the steady one."""
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
    flips, steady, new_values, writes = [], [], [], 0
    for round_ in range(rounds):
        now = T0 + timedelta(minutes=2 * round_)
        started = time.perf_counter()
        alerts_evaluate(observations=observations(count, 95, now), now=now)  # all fire
        flips.append(time.perf_counter() - started)
        with CaptureQueriesContext(connection) as queries:
            started = time.perf_counter()
            alerts_evaluate(observations=observations(count, 95, now), now=now)  # all still firing, nothing new
            steady.append(time.perf_counter() - started)
        writes = sum(q["sql"].split()[0] in ("UPDATE", "INSERT", "DELETE") for q in queries.captured_queries)
        started = time.perf_counter()
        alerts_evaluate(observations=observations(count, 96, now), now=now)  # all still firing, new values
        new_values.append(time.perf_counter() - started)
        alerts_evaluate(observations=observations(count, 10, now), now=now + timedelta(minutes=1))  # all resolve
    assert Alert.objects.count() == count
    return (*(statistics.median(times) * 1000 for times in (steady, new_values, flips)), writes)


def main() -> None:
    counts = [int(arg) for arg in sys.argv[1:]] or [100, 1000, 3000]
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    try:
        base_steady, base_values, base_flip, base_writes = measure(10)
        print(
            f"baseline   10 label sets: steady {base_steady:8.1f} ms ({base_writes} writes)   "
            f"new values {base_values:8.1f} ms   all firing anew {base_flip:8.1f} ms"
        )
        for count in counts:
            steady, values, flip, writes = measure(count)
            print(
                f"workload {count:4d} label sets: steady {steady:8.1f} ms ({writes} writes)   "
                f"new values {values:8.1f} ms   all firing anew {flip:8.1f} ms   "
                f"cost per label set vs baseline: steady ×{steady / count / (base_steady / 10):.2f}, "
                f"new values ×{values / count / (base_values / 10):.2f}, firing ×{flip / count / (base_flip / 10):.2f}"
            )
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


if __name__ == "__main__":
    main()
