"""The status timeline per check, the markers laid over every chart, and the backup history chart."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.utils.translation import gettext as _

from alerting.selectors import alert_changes_in
from backups.selectors import BackupRunMark
from backups.selectors import backup_runs_in as backup_runs_between
from dashboards.series import epoch
from monitoring.selectors import check_bands

MARKER_LIMIT = 2000  # a year of nightly backups and alert episodes fits; a flood must not make the page unusable


def check_timeline(*, start: datetime, end: datetime) -> list[dict[str, Any]]:
    """Per check (and host): [t, severity, share not ok] bands; 0 ok, 1 warning, 2 critical (the worst in each bin).

    Up to two days the bands come from the raw results (the current hour has no rollup yet), one per minute or
    five minutes; beyond, one band per hour or day from the rollups: monitoring's `check_bands` decides.
    """
    return [{"check": f"{name}@{host}" if host else name, "bands": bands}
            for (name, host), bands in check_bands(start=start, end=end).items()]


def backup_runs_in(*, start: datetime, end: datetime) -> list[BackupRunMark]:
    return backup_runs_between(start=start, end=end, limit=MARKER_LIMIT)


def history_markers(*, start: datetime, end: datetime, runs: list[BackupRunMark]) -> list[dict[str, Any]]:
    """Backup runs (at their start) and alert state changes (reminders left out), in time order."""
    markers = [
        {"t": epoch(run.at), "kind": "backup", "state": run.status,
         "text": _("backup #%(id)s %(status)s") % {"id": run.id, "status": run.status_label}}
        for run in runs
    ]
    markers += [
        {"t": epoch(change.at), "kind": "alert", "state": change.state,
         "text": _("alert %(rule)s: %(state)s") % {"rule": change.rule, "state": change.state_label}}
        for change in alert_changes_in(start=start, end=end, limit=MARKER_LIMIT)
    ]
    return sorted(markers, key=lambda marker: marker["t"])


def backup_history_chart(*, runs: list[BackupRunMark]) -> dict[str, Any]:
    """Size (MB) and duration (s) per finished run; failed runs as their own series so they can be marked red."""
    xs, sizes, durations, failures = [], [], [], []
    for run in runs:
        if not run.finished:
            continue
        xs.append(epoch(run.at))
        sizes.append(None if run.failed else run.total_bytes)
        durations.append(run.seconds)
        failures.append(0 if run.failed else None)
    return {
        "id": "backups", "title": _("Backups: size and duration per run"), "unit": "bytes", "x": xs,
        "series": [
            {"label": _("size"), "values": sizes},
            {"label": _("duration (s)"), "values": durations, "scale": "s"},
            {"label": _("failed"), "values": failures, "failure": True},
        ],
    }
