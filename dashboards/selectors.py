"""What the dashboards show, assembled from each app's own selectors (no query of their models lives here twice)."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.utils import timezone, translation

from dashboards.ranges import TimeRange
from dashboards.series import epoch, metric_charts, probe_chart, request_latency_chart
from dashboards.timeline import backup_history_chart, backup_runs_in, check_timeline, history_markers
from monitoring.selectors import history_resolution, history_step, rollups_newest


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
                         "breached": target.breached_since is not None or target.failing_since is not None,
                         "state": str(target.state)} for target in context["perf_targets"]],
    }


def _on_own_connection(function: Callable[[], Any]) -> Callable[[], Any]:
    # The active language is per thread: a pool thread would write titles, series names and markers in
    # LANGUAGE_CODE, not in the reader's language.
    language = translation.get_language()

    def call() -> Any:
        try:
            with translation.override(language):
                return function()
        finally:
            connection.close()  # a pool thread's connection would otherwise stay open until the process ends

    return call


ROLLUP_CACHE_SECONDS = 3600


def _rollup_cache_key(*, start: datetime, end: datetime) -> str | None:
    """A key naming exactly the rollup rows a long range reads, or None for short ranges (raw, always read).

    Rollups are whole hours written by the hourly task: `hour >= start AND hour <= end` selects the same rows as
    the start rounded up and the end rounded down to the hour, and new rows move the newest hour. So within an hour
    every request for "the last year" has the same key, and a new rollup makes a new one.
    """
    if history_resolution(start, end) == "raw":
        return None
    first = start if start == _hour(start) else _hour(start) + timedelta(hours=1)
    newest_metric, newest_check = rollups_newest()
    parts = [first, _hour(end), newest_metric, newest_check]
    # Per language: the cached charts carry translated titles and series names.
    stamps = ":".join(str(int(part.timestamp())) if part else "-" for part in parts)
    return f"dashboards:rollups:{translation.get_language()}:{stamps}"


def _hour(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


def dashboard_history(*, time_range: TimeRange) -> dict[str, Any]:
    """Everything the history page draws for one range, as JSON-ready data.

    Long ranges keep their rollup-derived part (metric charts, check timeline) in the cache under a key that
    changes with every new rollup (see _rollup_cache_key). Otherwise the three independent groups of reads (metric
    charts; check timeline; request, probe and backup series) run at once on their own connections: each is mostly
    database time, so a year answers in about the time of the slowest group instead of the sum. Inside a
    transaction (tests, a caller's atomic block) other connections would not see its rows, so there they run one
    after the other on this connection.
    """
    start, end = time_range.start, time_range.end

    def metrics() -> list[dict[str, Any]]:
        return metric_charts(start=start, end=end)

    def timeline() -> list[dict[str, Any]]:
        return check_timeline(start=start, end=end)

    def the_rest() -> dict[str, Any]:
        runs = backup_runs_in(start=start, end=end)
        return {"charts": [request_latency_chart(start=start, end=end), probe_chart(start=start, end=end)],
                "markers": history_markers(start=start, end=end, runs=runs), "backups": backup_history_chart(runs=runs)}

    key = _rollup_cache_key(start=start, end=end)
    cached = cache.get(key) if key else None
    if cached is not None:
        (charts, rows), rest = cached, the_rest()
    elif connection.in_atomic_block:
        charts, rows, rest = metrics(), timeline(), the_rest()
    else:
        with ThreadPoolExecutor(max_workers=3, thread_name_prefix="dashboard") as pool:
            futures = [pool.submit(_on_own_connection(job)) for job in (metrics, timeline, the_rest)]
            charts, rows, rest = (future.result() for future in futures)
    if key and cached is None:
        cache.set(key, (charts, rows), ROLLUP_CACHE_SECONDS)
    return {
        "range": {"key": time_range.key, "start": epoch(start), "end": epoch(end),
                  "resolution": history_resolution(start, end), "step": history_step(start, end)},
        "charts": [*charts, *rest["charts"]],
        "timeline": rows,
        "markers": rest["markers"],
        "backups": rest["backups"],
    }


LONG_RANGES = ("7d", "30d", "1y")


def dashboard_cache_warm(**_: object) -> list[str]:
    """Compute the long ranges once right after new rollups, so no viewer pays for the first read of the hour.

    Helps when the web processes share the cache with the worker: the default file cache under var/ on one
    machine, or CACHE_URL=redis://... across hosts (a per-process locmemcache:// would not).
    """
    from dashboards.ranges import time_range_parse

    warmed = []
    for language, _name in settings.LANGUAGES:
        with translation.override(language):
            for key in LONG_RANGES:
                dashboard_history(time_range=time_range_parse(key=key))
                warmed.append(f"{key}:{language}")
    return warmed
