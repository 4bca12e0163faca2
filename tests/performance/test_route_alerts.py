"""Real traffic can raise an alert: per-route p95 and 5xx share of the requests the middleware timed (a real server,
real concurrent requests) are observations, and the default rule "A route's p95 over its budget" fires on a route
that stays over it for 10 minutes, not on a fast one."""

from __future__ import annotations

import dataclasses
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import httpx
import pytest
from django.utils import timezone

from alerting.models import Alert, AlertRule, AlertState
from alerting.services.evaluation import alerts_evaluate
from performance.route_observations import route_observations

pytestmark = pytest.mark.django_db(transaction=True)
SLOW = "api/perf-test/slow/<int:ms>/"


def _requests(base: str, path: str, count: int) -> list[int]:
    with httpx.Client(timeout=30) as client, ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(lambda _: client.get(f"{base}{path}").status_code, range(count)))


def test_a_route_slower_than_its_budget_fires_the_default_rule_and_a_fast_one_does_not(portal, aggregator):
    assert _requests(portal.url, "/api/perf-test/slow/1100/", 24) == [200] * 24  # over the API budget of 1 s
    assert _requests(portal.url, "/perf-test/slow/5/", 24) == [200] * 24  # a page, far within its 3 s
    assert set(_requests(portal.url, "/perf-test/fails/", 20)) == {500}
    aggregator.flush(include_current=True)
    now = timezone.now()

    observed = {(o.name, o.labels["route"]): o for o in route_observations(now)}

    assert observed[("request_route_over_budget", SLOW)].value == 1.0
    assert observed[("request_route_p95_ms", SLOW)].value >= 1100
    assert observed[("request_route_over_budget", SLOW)].labels["kind"] == "api"
    assert observed[("request_route_over_budget", "perf-test/slow/<int:ms>/")].value == 0.0
    assert observed[("request_route_error_ratio", "perf-test/fails/")].value == 1.0
    assert observed[("request_route_error_ratio", SLOW)].value == 0.0

    rule = AlertRule.objects.get(key="route-over-budget")
    later = now + rule.for_duration + timedelta(seconds=1)
    alerts_evaluate(observations=list(observed.values()), now=now)
    alerts_evaluate(observations=[dataclasses.replace(o, at=later) for o in observed.values()], now=later)

    firing = Alert.objects.filter(rule=rule, state=AlertState.FIRING)
    assert [alert.labels["route"] for alert in firing] == [SLOW]


def test_a_route_with_a_handful_of_requests_is_not_judged(portal, aggregator):
    _requests(portal.url, "/api/perf-test/slow/1100/", 3)
    aggregator.flush(include_current=True)
    assert not [o for o in route_observations(timezone.now()) if o.labels["route"] == SLOW]
