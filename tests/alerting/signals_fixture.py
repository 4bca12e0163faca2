"""Signals standing in for other apps' signals (same kwargs): the alerting receivers are connected to these."""

from django.dispatch import Signal

backup_failed = Signal()  # kwargs: failure (backups.signals.BackupFailure)
budget_breached = Signal()  # kwargs: target, p95_ms, budget_ms
