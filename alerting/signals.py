"""Receivers turning other apps' signals into alert events."""

from __future__ import annotations

import importlib

from django.dispatch import Signal

from alerting.observations import EVENT_BACKUP_FAILED, EVENT_BUDGET_BREACHED
from alerting.services.events import connect_event_signal


def describe_backup_failure(*, failure: object, **_: object) -> tuple[dict[str, str], str, float | None]:
    """backups' BackupFailure payload: the failing source (kind:name) is the label, so each source alerts apart."""
    source = getattr(failure, "source", "")
    labels = {"source": str(source)} if source else {}
    message = f"Backup run {failure.run_id}: {failure.error}".strip(": ")
    return labels, message, None


def describe_budget_breach(
    *, target: object, p95_ms: float, budget_ms: float, **_: object
) -> tuple[dict[str, str], str, float | None]:
    return {"target": str(target)}, f"p95 {p95_ms:.0f} ms > budget {budget_ms:.0f} ms", float(p95_ms)


def connect_app_signals() -> None:
    # backups.signals and performance.signals are built in parallel by other issues; until they exist there is
    # nothing to listen to, and alerting must still load. Only their absence is tolerated: an ImportError raised
    # inside an existing module is a bug and propagates.
    backup_failed = _optional_signal("backups.signals", "backup_failed")
    if backup_failed is not None:
        connect_event_signal(backup_failed, event=EVENT_BACKUP_FAILED, describe=describe_backup_failure)
    budget_breached = _optional_signal("performance.signals", "budget_breached")
    if budget_breached is not None:
        connect_event_signal(budget_breached, event=EVENT_BUDGET_BREACHED, describe=describe_budget_breach)


def _optional_signal(module_name: str, attribute: str) -> Signal | None:
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name != module_name:
            raise
        return None
    return getattr(module, attribute)
