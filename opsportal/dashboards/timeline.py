"""The status timeline per check, the markers laid over every chart, and the backup history chart."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import connection
from django.utils.translation import gettext as _

from alerting.models import AlertState, AlertTransition
from backups.models import BackupRun
from monitoring.models import SEVERITY, CheckResult, CheckRollup, Status
from monitoring.selectors import _resolution as history_resolution
from monitoring.selectors import check_status_history
from opsportal.dashboards.series import epoch

MARKER_LIMIT = 2000  # a year of nightly backups and alert episodes fits; a flood must not make the page unusable


def _band(t: datetime, ok: int, warning: int, critical: int) -> list:
    """[t, worst severity in the bin, share of results that were not ok] (the page fades rare problems)."""
    total = ok + warning + critical
    worst = SEVERITY[Status.CRITICAL] if critical else SEVERITY[Status.WARNING] if warning else SEVERITY[Status.OK]
    return [epoch(t), worst if total else None, round((warning + critical) / total, 4) if total else 0]


def check_timeline(*, start: datetime, end: datetime) -> list[dict[str, Any]]:
    """Per check (and host): [t, severity, share not ok] bands; 0 ok, 1 warning, 2 critical (the worst in each bin).

    Up to two days each snapshot is one band (raw results: the current hour has no rollup yet); beyond, one band
    per hour or day from monitoring's `check_status_history`.
    """
    rows: dict[tuple[str, str], list[list[int]]] = {}
    if history_resolution(start, end) == "raw":
        severity_of = {str(status): severity for status, severity in SEVERITY.items()}
        for name, host, at, status in _raw_results(start=start, end=end):
            severity = severity_of[status]
            rows.setdefault((name, host), []).append([at, severity, 0 if severity == 0 else 1])
    else:
        pairs = (CheckRollup.objects.filter(hour__gte=start, hour__lte=end).values_list("check_name", "host")
                 .distinct().order_by("check_name", "host"))
        for name, host in pairs:
            history = check_status_history(check_name=name, host=host, start=start, end=end)
            rows[(name, host)] = [_band(point["t"], point["ok"], point["warning"], point["critical"])
                                  for point in history]
    return [{"check": f"{name}@{host}" if host else name, "bands": bands} for (name, host), bands in rows.items()]


# Epoch seconds straight from PostgreSQL: a day of results of 17 checks is 24,000 rows, and building a datetime
# for each only to turn it into a number again cost more than the query.
_RAW_RESULTS_SQL = (
    "SELECT check_name, host, extract(epoch FROM taken_at)::bigint, status FROM monitoring_checkresult"
    " WHERE taken_at >= %s AND taken_at <= %s ORDER BY check_name, host, taken_at"
)


def _raw_results(*, start: datetime, end: datetime) -> list[tuple[str, str, int, str]]:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(_RAW_RESULTS_SQL, [start, end])
            return cursor.fetchall()
    results = CheckResult.objects.filter(taken_at__gte=start, taken_at__lte=end).order_by(
        "check_name", "host", "taken_at")
    return [(name, host, epoch(at), status)
            for name, host, at, status in results.values_list("check_name", "host", "taken_at", "status")]


def backup_runs_in(*, start: datetime, end: datetime) -> list[BackupRun]:
    return list(
        BackupRun.objects.filter(created_at__gte=start, created_at__lte=end)
        .only("pk", "status", "trigger", "created_at", "started_at", "finished_at", "total_bytes")
        .order_by("created_at")[:MARKER_LIMIT]
    )


def history_markers(*, start: datetime, end: datetime, runs: list[BackupRun]) -> list[dict[str, Any]]:
    """Backup runs (at their start) and alert state changes (reminders left out), in time order."""
    run_status = dict(BackupRun.Status.choices)
    markers = [
        {"t": epoch(run.started_at or run.created_at), "kind": "backup", "state": run.status,
         "text": _("backup #%(id)s %(status)s") % {"id": run.pk, "status": run_status.get(run.status, run.status)}}
        for run in runs
    ]
    transitions = (
        AlertTransition.objects.filter(happened_at__gte=start, happened_at__lte=end)
        .exclude(old_state="firing", new_state="firing")
        .order_by("happened_at")
        .values_list("happened_at", "new_state", "alert__rule__name")[:MARKER_LIMIT]
    )
    state_names = {value: str(label) for value, label in AlertState.choices}
    markers += [
        {"t": epoch(at), "kind": "alert", "state": state,
         "text": _("alert %(rule)s: %(state)s") % {"rule": rule, "state": state_names.get(state, state)}}
        for at, state, rule in transitions
    ]
    return sorted(markers, key=lambda marker: marker["t"])


def backup_history_chart(*, runs: list[BackupRun]) -> dict[str, Any]:
    """Size (MB) and duration (s) per finished run; failed runs as their own series so they can be marked red."""
    finished = [run for run in runs if run.status in (BackupRun.Status.SUCCEEDED, BackupRun.Status.FAILED)]
    xs, sizes, durations, failures = [], [], [], []
    for run in finished:
        xs.append(epoch(run.started_at or run.created_at))
        seconds = (run.finished_at - run.started_at).total_seconds() if run.started_at and run.finished_at else None
        failed = run.status == BackupRun.Status.FAILED
        sizes.append(None if failed else run.total_bytes)
        durations.append(seconds)
        failures.append(0 if failed else None)
    return {
        "id": "backups", "title": _("Backups: size and duration per run"), "unit": "bytes", "x": xs,
        "series": [
            {"label": _("size"), "values": sizes},
            {"label": _("duration (s)"), "values": durations, "scale": "s"},
            {"label": _("failed"), "values": failures, "failure": True},
        ],
    }
