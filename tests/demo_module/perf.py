"""The module's performance targets: found by discovery once the app is installed (see docs/guides/performance.md)."""

from performance.registry import TargetSpec

TARGETS = [
    TargetSpec(name="demo: shipments liveness", url="/api/system/health/live", budget_ms=800, samples=2),
]
