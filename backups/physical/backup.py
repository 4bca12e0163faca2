"""Physical backups as backup runs: `pgbackrest backup --type=full|diff|incr`, with live progress from `info`.

The run is annotated in pgBackRest with the portal's run UUID, trigger and author; on success the artifact mirrors
what `pgbackrest info` reports for that set. pgBackRest's own expire is never run automatically
(`--no-expire-auto`): retention is the portal's (retention.py), so a pinned run is never expired behind its back.
"""

from __future__ import annotations

import logging
import os
import re
import socket
import traceback
from collections.abc import Callable

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from backups.models import BackupArtifact, BackupRun
from backups.physical import ARTIFACT_KIND, BACKUP_TYPES, KIND
from backups.physical.command import pgbackrest_run, scrub
from backups.physical.config import stanza
from backups.physical.info import (
    BY_ANNOTATION,
    RUN_ANNOTATION,
    TRIGGER_ANNOTATION,
    BackupSet,
    stanza_info,
)
from backups.services.backup import BackupBusy, backup_run_create
from backups.services.failure import announce_failure
from backups.services.progress import Progress
from backups.signals import backup_succeeded

logger = logging.getLogger("backups")
_PERCENT = re.compile(r", (\d+(?:\.\d+)?)%\)")


def physical_backup_create(
    *, backup_type: str, trigger: str, user: AbstractBaseUser | None = None, actor: str = ""
) -> BackupRun:
    """A queued physical run (BackupBusy if any backup is queued or running, as for logical ones)."""
    if backup_type not in BACKUP_TYPES:
        raise ValueError(_("The backup type must be full, diff or incr, not %(type)s.") % {"type": backup_type})
    stanza()  # PhysicalNotConfigured before any record exists
    with transaction.atomic():
        run = backup_run_create(trigger=trigger, user=user, actor=actor)
        BackupRun.objects.filter(pk=run.pk).update(kind=KIND, physical_type=backup_type)
    run.refresh_from_db()
    return run


def physical_backup_enqueue(
    *, backup_type: str, trigger: str, user: AbstractBaseUser | None = None, actor: str = ""
) -> BackupRun:
    from backups.tasks import run_backup

    run = physical_backup_create(backup_type=backup_type, trigger=trigger, user=user, actor=actor)
    transaction.on_commit(lambda: run_backup.delay(run.pk))
    return run


def _claim(run: BackupRun) -> bool | None:
    now = timezone.now()
    try:
        with transaction.atomic():
            claimed = BackupRun.objects.filter(pk=run.pk, status=BackupRun.Status.QUEUED).update(
                status=BackupRun.Status.RUNNING, started_at=now, heartbeat_at=now,
                worker_host=socket.gethostname(), worker_pid=os.getpid(), storage_prefix="",
            )
    except IntegrityError:
        return False
    return True if claimed else None


def artifact_fields(backup: BackupSet, stanza_name: str, cipher: str) -> dict:
    """The BackupArtifact of a pgBackRest set: its label is the path, its repository size what is stored."""
    return {
        "kind": ARTIFACT_KIND,
        "name": stanza_name,
        "path": backup.label,
        "stored_bytes": backup.repo_delta,
        "raw_bytes": backup.size,
        "sha256": "",
        "compression": "pgbackrest",
        "encrypted": cipher not in ("", "none"),
        "format": f"pgbackrest-{backup.type}",
        "metadata": {
            "label": backup.label,
            "type": backup.type,
            "prior": backup.prior,
            "references": backup.references,
            "started_at": backup.started_at.isoformat(),
            "stopped_at": backup.stopped_at.isoformat(),
            "size": backup.size,
            "repo_size": backup.repo_size,
            "repo_delta": backup.repo_delta,
            "wal_start": backup.wal_start,
            "wal_stop": backup.wal_stop,
            "lsn_start": backup.lsn_start,
            "lsn_stop": backup.lsn_stop,
            "annotations": backup.annotations,
        },
    }


def _annotations(run: BackupRun) -> list[str]:
    values = {RUN_ANNOTATION: str(run.uuid), TRIGGER_ANNOTATION: run.trigger, BY_ANNOTATION: run.triggered_by_name}
    # pgBackRest refuses an empty annotation value (it means "remove"): leave those out.
    return [f"--annotation={key}={value}" for key, value in values.items() if value]


def physical_backup_execute(*, run_id: int, on_progress: Callable[[Progress], None] | None = None) -> BackupRun | None:
    """Run a queued physical backup to its end; the outcome is on the returned run (None: claimed elsewhere)."""
    run = BackupRun.objects.filter(pk=run_id, kind=KIND).first()
    if run is None:
        return None
    claimed = _claim(run)
    if claimed is None:
        return None
    if claimed is False:
        BackupRun.objects.filter(pk=run.pk, status=BackupRun.Status.QUEUED).update(
            status=BackupRun.Status.FAILED, finished_at=timezone.now(),
            error=_("Another backup was running; this one did not start."),
        )
        run.refresh_from_db()
        announce_failure(run)
        return run
    run.refresh_from_db()
    progress = Progress(run.pk, on_flush=on_progress)
    progress.current = f"pgbackrest {run.physical_type}"
    progress.start()
    try:
        name = stanza()
        before = stanza_info()  # a missing stanza or a wrong passphrase fails here, before PostgreSQL is touched
        if run.physical_type != "full" and not any(b.type == "full" for b in before.backups):
            progress.log(_("no full backup in the repository yet: pgBackRest takes a full one instead"))
        progress.log(f"pgbackrest backup --type={run.physical_type} (stanza {name})")

        estimate = _cluster_size()

        def on_line(line: str) -> None:
            # --log-level-console=detail: one line per file copied, ending "(size, NN.NN%)".
            match = _PERCENT.search(line)
            if match:
                percent = float(match.group(1))
                progress.current = f"pgbackrest {run.physical_type} {percent:.0f}%"
                if estimate:
                    progress.bytes_done = int(estimate * percent / 100)

        pgbackrest_run(
            ["backup", f"--type={run.physical_type}", "--no-expire-auto", "--start-fast",
             "--log-level-console=detail", *_annotations(run)],
            on_line=on_line,
        )
        after = stanza_info()
        backup = after.by_run_uuid(str(run.uuid))
        if backup is None:
            raise RuntimeError(_("pgbackrest reported success but its catalog has no backup annotated with run "
                                 "%(uuid)s.") % {"uuid": run.uuid})
        with transaction.atomic():
            BackupArtifact.objects.filter(run=run).delete()
            BackupArtifact.objects.create(run=run, **artifact_fields(backup, name, after.cipher))
            progress.stop()
            progress.bytes_done = backup.size
            progress.log(f"succeeded: {backup.label} ({backup.type}), {backup.size} bytes, "
                         f"{backup.repo_delta} stored")
            done = BackupRun.objects.filter(pk=run.pk, status=BackupRun.Status.RUNNING).update(
                status=BackupRun.Status.SUCCEEDED, finished_at=timezone.now(), total_bytes=backup.repo_delta,
                bytes_done=backup.size, current_artifact="", heartbeat_at=timezone.now(), log=progress.text,
                physical_type=backup.type,
            )
            if not done:  # the reaper declared it lost meanwhile; the set stays in pgBackRest, a reindex finds it
                BackupArtifact.objects.filter(run=run).delete()
        run.refresh_from_db()
        if run.status == BackupRun.Status.SUCCEEDED:
            backup_succeeded.send(sender=BackupRun, run=run)
        return run
    except Exception as exc:
        progress.stop()
        message = scrub(str(exc))
        progress.log(f"failed: {message}")
        progress.lines.append(scrub(traceback.format_exc()))
        BackupArtifact.objects.filter(run=run).delete()
        BackupRun.objects.filter(pk=run.pk).update(
            status=BackupRun.Status.FAILED, finished_at=timezone.now(), error=message, current_artifact="",
            bytes_done=progress.bytes_done, log=progress.text,
        )
        run.refresh_from_db()
        announce_failure(run, source=f"{KIND}:{settings.BACKUP_PGBACKREST_STANZA}")
        return run


def _cluster_size() -> int:
    """The size of the cluster's databases: what a backup's percentage is of (pgBackRest reports only that)."""
    from backups.physical.sql import connect

    try:
        with connect() as conn:
            return int(conn.execute("SELECT sum(pg_database_size(oid)) FROM pg_database").fetchone()[0] or 0)
    except Exception:
        return 0


def physical_backup_scheduled(*, backup_type: str) -> BackupRun | None:
    """A scheduled physical backup, run here; None when physical backups are off or another backup is running."""
    from backups.physical.config import enabled

    if not enabled():
        logger.info("scheduled physical backup skipped: BACKUP_PGBACKREST_STANZA is not set")
        return None
    try:
        run = physical_backup_create(backup_type=backup_type, trigger=BackupRun.Trigger.SCHEDULED, actor="schedule")
    except BackupBusy as exc:
        logger.warning("scheduled physical backup skipped: %s", exc)
        return None
    return physical_backup_execute(run_id=run.pk)
