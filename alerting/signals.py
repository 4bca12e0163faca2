"""Receivers of the other apps' public signals: events for alert rules, and an evaluation after each snapshot.

Alerting depends on backups, performance and monitoring through their `signals` modules; none of them imports
alerting.
"""

from __future__ import annotations

from django.db import transaction

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


def evaluate_after_snapshot(*, snapshot_id: int, **_: object) -> None:
    """Alert rules are evaluated right after each health snapshot (beat's own evaluate schedule is a safety net)."""
    from alerting.tasks import evaluate

    transaction.on_commit(evaluate.delay)


def connect_app_signals() -> None:
    from backups.signals import backup_failed
    from monitoring.signals import snapshot_taken
    from performance.signals import budget_breached

    connect_event_signal(backup_failed, event=EVENT_BACKUP_FAILED, describe=describe_backup_failure)
    connect_event_signal(budget_breached, event=EVENT_BUDGET_BREACHED, describe=describe_budget_breach)
    snapshot_taken.connect(evaluate_after_snapshot, dispatch_uid="alerting:evaluate-after-snapshot")
