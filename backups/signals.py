"""Signals other apps (alerting) listen to. Sent after the outcome is saved on the record.

`backup_failed` carries a BackupFailure, a frozen value made by the backups app: receivers need no BackupRun (a
failure may be announced from the journal after the database came back) and read no private field. It is sent with
`send_robust` (backups.services.failure.announce_failure): a receiver that raises is logged and cannot break the
backup or keep the failure from the other receivers.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from django.dispatch import Signal

if TYPE_CHECKING:
    from backups.models import BackupRun


@dataclass(frozen=True)
class BackupFailure:
    run_id: int
    uuid: str
    trigger: str  # BackupRun.Trigger value: manual, scheduled, cli, api, safety
    source: str  # kind:name of the source that failed ("database:default"), "" when no single source did
    error: str
    created_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None

    @classmethod
    def of(cls, run: BackupRun, *, source: str = "") -> BackupFailure:
        return cls(
            run_id=run.pk,
            uuid=str(run.uuid),
            trigger=run.trigger,
            source=source,
            error=run.error,
            created_at=run.created_at,
            started_at=run.started_at,
            finished_at=run.finished_at,
        )


# sender=BackupRun, run=<BackupRun>
backup_succeeded = Signal()
# sender=BackupRun, failure=<BackupFailure>
backup_failed = Signal()
# sender=RestoreRun, restore=<RestoreRun>
restore_finished = Signal()
