"""The portal's own default targets: its health API and the admin index."""

from performance.registry import TargetSpec

TARGETS = [
    TargetSpec(name="portal: liveness API", url_name="monitoring:health-live"),
    # The full health API arrives with the monitoring app; declared only once its URL exists.
    TargetSpec(name="portal: health API", url_name="monitoring:health", only_if_resolves=True),
    TargetSpec(name="portal: admin index", kind="page", url_name="admin:index"),
]
