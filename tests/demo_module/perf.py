"""The module's performance targets: found by discovery once the app is installed (see docs/guides/performance.md)."""

from performance.registry import TargetSpec

TARGETS = [
    TargetSpec(name="demo: shipments liveness", url="/api/system/health/live", budget_ms=800, samples=2),
    # its own pages, mounted at /demo_module/ by discovery
    TargetSpec(name="demo: shipments API", url_name="demo_module:api-shipments", budget_ms=800, samples=2),
    TargetSpec(name="demo: shipments board", kind="page", url="/demo_module/board/", budget_ms=3000, samples=1),
]
