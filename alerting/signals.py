"""Receivers turning other apps' signals into alert events."""

from __future__ import annotations

from alerting.observations import EVENT_BACKUP_FAILED, EVENT_BUDGET_BREACHED
from alerting.services.events import connect_event_signal


def describe_backup_failure(*, run: object, **_: object) -> tuple[dict[str, str], str, float | None]:
    source = getattr(run, "source", None) or getattr(run, "source_name", None)
    labels = {"source": str(source)} if source else {}
    error = getattr(run, "error", "") or ""
    return labels, f"{run}: {error}".strip(": "), None


def describe_budget_breach(
    *, target: object, p95_ms: float, budget_ms: float, **_: object
) -> tuple[dict[str, str], str, float | None]:
    return {"target": str(target)}, f"p95 {p95_ms:.0f} ms > budget {budget_ms:.0f} ms", float(p95_ms)


def connect_app_signals() -> None:
    # backups.signals and performance.signals are built in parallel by other issues; until they exist there is
    # nothing to listen to, and alerting must still load.
    try:
        from backups.signals import backup_failed
    except ImportError:
        pass
    else:
        connect_event_signal(backup_failed, event=EVENT_BACKUP_FAILED, describe=describe_backup_failure)
    try:
        from performance.signals import budget_breached
    except ImportError:
        pass
    else:
        connect_event_signal(budget_breached, event=EVENT_BUDGET_BREACHED, describe=describe_budget_breach)
