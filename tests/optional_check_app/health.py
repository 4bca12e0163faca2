"""A health.py with a check declared non-critical that reads critical (tests/monitoring/test_non_critical.py)."""

from __future__ import annotations

from monitoring.checks.base import CheckOutcome, HealthCheck
from monitoring.registry import register


@register
class OptionalFeedCheck(HealthCheck):
    """Stands for a nice-to-have dependency: when it is down, someone should look, nobody should be woken."""

    name = "optional-feed"
    critical = False

    def run(self) -> CheckOutcome:
        return self.failure("the optional feed refused the connection", values={"reachable": False})
