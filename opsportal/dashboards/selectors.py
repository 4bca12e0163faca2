"""What the dashboards show, assembled from each app's own selectors (no query of their models lives here twice)."""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from monitoring.selectors import _resolution as history_resolution
from opsportal.dashboards.ranges import TimeRange
from opsportal.dashboards.series import epoch, history_charts
from opsportal.dashboards.timeline import backup_history_chart, backup_runs_in, check_timeline, history_markers


def overview_context() -> dict[str, Any]:
    """The operations overview's context: the same for the index page and for its polling endpoint."""
    from alerting.selectors import channels_failing, firing_alerts
    from backups.selectors import backup_overview
    from monitoring.selectors import health_overview
    from performance.selectors import perf_targets_enabled

    health = health_overview()
    return {
        "health": health,
        "worker_heartbeats": health["worker_heartbeats"],
        "backup_overview": backup_overview(),
        "firing_alerts": firing_alerts(),
        "failing_channels": channels_failing(),
        "perf_targets": perf_targets_enabled(),
    }


def overview_state(context: dict[str, Any]) -> dict[str, Any]:
    """The overview's facts as data (the page swaps in server-rendered sections; scripts and tests read these)."""
    health, backups = context["health"], context["backup_overview"]
    active = backups["active"]
    return {
        "generated_at": timezone.now().isoformat(),
        "health": {
            "status": health["status"],
            "checks": [{"check": row.check_name, "host": row.host, "status": row.status} for row in health["results"]],
        },
        "backup": {
            "last_id": backups["last"].pk if backups["last"] else None,
            "active": {"id": active.pk, "status": active.status, "bytes_done": active.bytes_done,
                       "current_artifact": active.current_artifact} if active else None,
        },
        "firing_alerts": [{"id": alert.pk, "rule": alert.rule.name, "severity": alert.rule.severity}
                          for alert in context["firing_alerts"]],
        "performance": [{"target": target.name, "p95_ms": target.last_p95_ms, "budget_ms": target.budget_ms,
                         "breached": target.breached_since is not None} for target in context["perf_targets"]],
    }


def dashboard_history(*, time_range: TimeRange) -> dict[str, Any]:
    """Everything the history page draws for one range, as JSON-ready data."""
    start, end = time_range.start, time_range.end
    runs = backup_runs_in(start=start, end=end)
    return {
        "range": {"key": time_range.key, "start": epoch(start), "end": epoch(end),
                  "resolution": history_resolution(start, end)},
        "charts": history_charts(start=start, end=end),
        "timeline": check_timeline(start=start, end=end),
        "markers": history_markers(start=start, end=end, runs=runs),
        "backups": backup_history_chart(runs=runs),
    }
