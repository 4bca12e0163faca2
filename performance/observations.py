"""What alerting sees of performance: per enabled target, whether its budget is breached now and its p95.

A breach is a state, not an event: the default rule "performance budget breached for 10 min" watches
`perf_target_breached > 0`, so an alert fires only when the breach has lasted and resolves when it ends.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from alerting.observations import Observation

METRIC_BREACHED = "perf_target_breached"
METRIC_P95 = "perf_target_p95_ms"


def performance_observations(now: datetime) -> Iterator[Observation]:
    from performance.models import PerfTarget

    for name, kind, breached_since, p95_ms in PerfTarget.objects.filter(enabled=True).values_list(
        "name", "kind", "breached_since", "last_p95_ms"
    ):
        labels = {"target": name, "kind": kind}
        yield Observation(
            kind="metric",
            name=METRIC_BREACHED,
            labels=labels,
            value=1.0 if breached_since else 0.0,
            status=None,
            at=now,
        )
        if p95_ms is not None:
            yield Observation(kind="metric", name=METRIC_P95, labels=labels, value=float(p95_ms), status=None, at=now)
