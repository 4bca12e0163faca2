"""A module's own targets, as a new app (documents, logistics, ...) would declare them."""

from performance.registry import TargetSpec

TARGETS = [
    TargetSpec(name="perfapp: liveness", url="/api/system/health/live", budget_ms=500, samples=2),
    TargetSpec(name="perfapp: test page", kind="page", url_name="perf-test-page"),
    TargetSpec(name="perfapp: not installed", url_name="nowhere:nothing", only_if_resolves=True),
]
