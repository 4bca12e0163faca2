"""What alerting sees of real traffic: per route, its p95 and its share of server errors, so budgets hold for the
requests people make, not only for the probes of declared targets.

Read from the RequestStat minutes every web process writes (request timing middleware), over the last WINDOW:

- `request_route_p95_ms`: the p95, as the upper bound of the histogram bucket that holds the 95th percentile (the
  slowest request when it falls in the last, open bucket); labels route, method, kind (api or page)
- `request_route_over_budget`: 1 while that p95 is over the route's budget (1 s for `api/…` routes, 3 s for pages)
- `request_route_error_ratio`: the share of 5xx answers, 0 to 1

A route with fewer than MIN_REQUESTS requests in the window is left out: one slow request is not a p95. Static files
are left out. The default rule "A route's p95 over its budget" watches `request_route_over_budget > 0` for 10 min.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from alerting.observations import Observation

METRIC_ROUTE_P95 = "request_route_p95_ms"
METRIC_ROUTE_OVER_BUDGET = "request_route_over_budget"  # the name alerting's default rule watches
METRIC_ROUTE_ERRORS = "request_route_error_ratio"
ROUTE_METRICS = [METRIC_ROUTE_P95, METRIC_ROUTE_OVER_BUDGET, METRIC_ROUTE_ERRORS]
WINDOW = timedelta(minutes=5)
MIN_REQUESTS = 20


@dataclass
class _Route:
    count: int = 0
    errors: int = 0
    max_ms: float = 0.0
    buckets: list[int] = field(default_factory=list)

    def add(self, count: int, status_class: str, max_ms: float, buckets: list[int]) -> None:
        self.count += count
        if status_class == "5xx":
            self.errors += count
        self.max_ms = max(self.max_ms, max_ms)
        if len(self.buckets) < len(buckets):
            self.buckets += [0] * (len(buckets) - len(self.buckets))
        for index, value in enumerate(buckets):
            self.buckets[index] += value

    def p95_ms(self, bounds: tuple[float, ...]) -> float:
        rank = 0.95 * self.count
        seen = 0
        for index, value in enumerate(self.buckets):
            seen += value
            if seen >= rank:
                return bounds[index] if index < len(bounds) else self.max_ms
        return self.max_ms


def route_kind(route: str) -> str:
    return "api" if route.startswith(("api/", "/api/")) else "page"


def route_observations(now: datetime) -> Iterator[Observation]:
    from performance.models import DEFAULT_BUDGET_MS, RequestStat
    from performance.timing import BUCKETS_MS, STATIC_ROUTE

    routes: dict[tuple[str, str], _Route] = {}
    rows = (RequestStat.objects.filter(minute__gte=now - WINDOW, minute__lte=now).exclude(route=STATIC_ROUTE)
            .values_list("route", "method", "status_class", "count", "max_ms", "buckets"))
    for route, method, status_class, count, max_ms, buckets in rows:
        routes.setdefault((route, method), _Route()).add(count, status_class, max_ms, list(buckets or []))
    for (route, method), stats in sorted(routes.items()):
        if stats.count < MIN_REQUESTS:
            continue
        kind = route_kind(route)
        labels = {"route": route, "method": method, "kind": kind}
        p95 = stats.p95_ms(BUCKETS_MS)
        for name, value in (
            (METRIC_ROUTE_P95, p95),
            (METRIC_ROUTE_OVER_BUDGET, 1.0 if p95 > DEFAULT_BUDGET_MS[kind] else 0.0),
            (METRIC_ROUTE_ERRORS, stats.errors / stats.count),
        ):
            yield Observation(kind="metric", name=name, labels=labels, value=float(value), status=None, at=now)
