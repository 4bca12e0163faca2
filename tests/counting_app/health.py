"""A module's health.py with one check that counts its runs (tests/monitoring/test_shared_report.py)."""

from __future__ import annotations

import threading

from monitoring.checks.base import CheckOutcome, HealthCheck
from monitoring.registry import register

runs = {"count": 0}
_lock = threading.Lock()


@register
class CountingCheck(HealthCheck):
    name = "counting-test"
    critical = False

    def run(self) -> CheckOutcome:
        with _lock:
            runs["count"] += 1
        return self.ok("counted")
