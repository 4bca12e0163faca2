"""What alerting sees of performance: per enabled target, whether it is red now, whether it is up, and its p95.

A breach is a state, not an event: the default rule "performance budget breached for 10 min" watches
`perf_target_breached > 0`, so an alert fires only when the breach has lasted and resolves when it ends. A failing
target (its last probe round failed: refused, timed out, unexpected status) counts as breached: nothing is known
to be within budget when nothing answers. `perf_target_up` is 1 or 0 after the first round, for rules of their own.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from alerting.observations import Observation

METRIC_BREACHED = "perf_target_breached"
METRIC_P95 = "perf_target_p95_ms"
METRIC_UP = "perf_target_up"


def performance_observations(now: datetime) -> Iterator[Observation]:
    from performance.models import PerfTarget

    for target in PerfTarget.objects.filter(enabled=True).only(
        "name", "kind", "breached_since", "failing_since", "last_probed_at", "last_p95_ms"
    ):
        labels = {"target": target.name, "kind": target.kind}
        red = target.breached_since is not None or target.failing_since is not None
        yield Observation(
            kind="metric", name=METRIC_BREACHED, labels=labels, value=1.0 if red else 0.0, status=None, at=now
        )
        if target.is_up is not None:
            yield Observation(
                kind="metric", name=METRIC_UP, labels=labels, value=1.0 if target.is_up else 0.0, status=None, at=now
            )
        if target.last_p95_ms is not None:
            yield Observation(
                kind="metric", name=METRIC_P95, labels=labels, value=float(target.last_p95_ms), status=None, at=now
            )
