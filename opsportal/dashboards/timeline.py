"""The status timeline per check, the markers laid over every chart, and the backup history chart."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db import connection
from django.utils.translation import gettext as _

from alerting.models import AlertState, AlertTransition
from backups.models import BackupRun
from monitoring.models import SEVERITY, CheckResult, Status
from monitoring.selectors import BIN_ORIGIN, bin_start, check_status_all, history_step
from monitoring.selectors import _resolution as history_resolution
from opsportal.dashboards.series import epoch

MARKER_LIMIT = 2000  # a year of nightly backups and alert episodes fits; a flood must not make the page unusable


def _band(at: int, ok: int, warning: int, critical: int) -> list:
    """[t, worst severity in the bin, share of results that were not ok] (the page fades rare problems)."""
    total = ok + warning + critical
    worst = SEVERITY[Status.CRITICAL] if critical else SEVERITY[Status.WARNING] if warning else SEVERITY[Status.OK]
    return [at, worst if total else None, round((warning + critical) / total, 4) if total else 0]


def check_timeline(*, start: datetime, end: datetime) -> list[dict[str, Any]]:
    """Per check (and host): [t, severity, share not ok] bands; 0 ok, 1 warning, 2 critical (the worst in each bin).

    Up to two days the bands come from the raw results (the current hour has no rollup yet), one per minute or
    five minutes (`history_step`); beyond, one band per hour or day from monitoring's `check_status_all`.
    """
    rows: dict[tuple[str, str], list[list]] = {}
    if history_resolution(start, end) == "raw":
        for name, host, at, worst, share in _raw_bands(start=start, end=end, step=history_step(start, end)):
            rows.setdefault((name, host), []).append([at, worst, round(share, 4)])
    else:
        for (name, host), points in check_status_all(start=start, end=end).items():
            rows[(name, host)] = [_band(at, ok, warning, critical) for at, ok, warning, critical in points]
    return [{"check": f"{name}@{host}" if host else name, "bands": bands}
            for (name, host), bands in sorted(rows.items())]


# One band per check and bin straight from PostgreSQL (the worst severity and the share not ok, epoch seconds): a
# day of results of 17 checks is 24,000 rows, binned to five minutes 4,900. The CASE is built from SEVERITY.
_SEVERITY_SQL = "CASE status " + " ".join(
    f"WHEN '{status}' THEN {severity}" for status, severity in SEVERITY.items()) + " END"
_RAW_BANDS_SQL = (
    "SELECT check_name, host, extract(epoch FROM date_bin(%(step)s, taken_at, %(origin)s))::bigint,"  # noqa: S608
    f" MAX({_SEVERITY_SQL}), AVG(CASE WHEN status = '{Status.OK}' THEN 0.0 ELSE 1.0 END)"
    " FROM monitoring_checkresult WHERE taken_at >= %(start)s AND taken_at <= %(end)s"
    " GROUP BY 1, 2, 3 ORDER BY 3"  # by time only: sorting by the text columns costs more (collation)
)


def _raw_bands(*, start: datetime, end: datetime, step: int) -> list[tuple[str, str, int, int, float]]:
    """(check, host, bin start, worst severity, share of results not ok) per `step` seconds, in time order."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(_RAW_BANDS_SQL, {"step": timedelta(seconds=step), "origin": BIN_ORIGIN, "start": start,
                                            "end": end})
            return [(name, host, at, worst, float(share)) for name, host, at, worst, share in cursor.fetchall()]
    bins: dict[tuple[str, str, int], list[int]] = {}
    results = CheckResult.objects.filter(taken_at__gte=start, taken_at__lte=end).order_by(
        "check_name", "host", "taken_at")
    for name, host, at, status in results.values_list("check_name", "host", "taken_at", "status"):
        bins.setdefault((name, host, bin_start(at, step)), []).append(SEVERITY[Status(status)])
    return [(name, host, at, max(found), sum(1 for value in found if value) / len(found))
            for (name, host, at), found in bins.items()]


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
