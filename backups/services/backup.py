"""Creating and running backups: claim, preflight every source, stream each one, write the manifest."""

from __future__ import annotations

import contextlib
import logging
import os
import re
import threading
import traceback
from collections.abc import Callable

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.files.storage import Storage
from django.db import IntegrityError, connection, connections, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from backups import manifest, postgres
from backups.models import BackupArtifact, BackupRun, RestoreRun
from backups.pipeline import encode
from backups.services.failure import announce_failure, backup_run_fail, describe_exception, remove_files_of
from backups.services.interrupts import signals_deferred, signals_interrupt
from backups.services.journal import journal_replay
from backups.services.progress import Progress, sources_estimate
from backups.services.reaper import backup_runs_reap_dead_workers
from backups.signals import backup_succeeded
from backups.sources import Source, SourceError, SourceStream, selected
from backups.storage import ArtifactWriter, backup_storage
from opsportal.lib.hostname import host_name

logger = logging.getLogger("backups")

CREATE_LOCK_KEY = 0x6F70_6261_636B  # "opback": an arbitrary, fixed advisory-lock key


class BackupBusy(Exception):
    """Another backup is queued or running, or a restore is running; no run was created.

    `run` is the backup in the way, or None when `restore` (a running RestoreRun) is.
    """

    def __init__(self, run: BackupRun | None, *, restore: RestoreRun | None = None) -> None:
        self.run = run
        self.restore = restore
        if run is not None:
            message = _("Backup #%(id)s is already %(status)s; wait for it to finish.") % {
                "id": run.pk, "status": run.get_status_display()}
        else:
            # a backup taken now would capture a half-restored database, or race the restore for it
            message = _("Restore #%(id)s is running; start the backup once it has finished.") % {
                "id": restore.pk if restore is not None else "?"}
        super().__init__(message)


def scrub_secrets(text: str) -> str:
    for alias in connections:
        text = postgres.scrub(text, connections[alias].settings_dict)
    for db in settings.BACKUP_DATABASE_URLS.values():  # the other databases' passwords too
        text = postgres.scrub(text, db)
    return postgres.scrub(text)


def backup_run_create(
    *,
    trigger: str,
    user: AbstractBaseUser | None = None,
    actor: str = "",
    only: list[str] | None = None,
) -> BackupRun:
    """A queued run, unless one is already queued or running (then BackupBusy, and nothing is created).

    Failures journalled on this host are written first, and a run whose process on this host is gone is failed at
    once, so neither blocks the new backup until BACKUP_STALE_AFTER.
    """
    journal_replay(cleanup=False)
    backup_runs_reap_dead_workers()
    with transaction.atomic():
        if connection.vendor == "postgresql":
            # Serialises concurrent triggers, so the second one sees the first run and is refused right away.
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [CREATE_LOCK_KEY])
        busy = (
            BackupRun.objects.select_for_update()
            .filter(status__in=[BackupRun.Status.QUEUED, BackupRun.Status.RUNNING])
            .order_by("created_at")
            .first()
        )
        if busy is not None:
            raise BackupBusy(busy)
        if trigger != BackupRun.Trigger.SAFETY:  # a restore's own safety backup is the one backup it allows
            # only a restore over the originals (a database or files in place, the running cluster) is in the way;
            # one into another database or a scratch data directory (drills) is not
            restoring = (RestoreRun.objects.filter(status=RestoreRun.Status.RUNNING)
                         .filter(Q(kind=BackupRun.Kind.LOGICAL, target="") | Q(in_place=True))
                         .order_by("created_at").first())
            if restoring is not None:
                raise BackupBusy(None, restore=restoring)
        return BackupRun.objects.create(
            trigger=trigger,
            triggered_by=user if user is not None and user.pk else None,
            triggered_by_name=user.get_username() if user is not None else actor,
            only=list(only or []),
        )


def backup_run_enqueue(
    *, trigger: str, user: AbstractBaseUser | None = None, actor: str = "", only: list[str] | None = None
) -> BackupRun:
    """A queued run (of the sources selected by `only`, KIND or KIND:NAME; all when None), run by a worker."""
    from backups.tasks import run_backup

    run = backup_run_create(trigger=trigger, user=user, actor=actor, only=only)
    transaction.on_commit(lambda: run_backup.delay(run.pk))
    return run


def _claim(run: BackupRun) -> bool | None:
    """True if this process now owns the run; False if another backup is running; None if already claimed."""
    now = timezone.now()
    prefix = f"{run.created_at:%Y%m%dT%H%M%SZ}-run{run.pk}"
    try:
        with transaction.atomic():
            claimed = BackupRun.objects.filter(pk=run.pk, status=BackupRun.Status.QUEUED).update(
                status=BackupRun.Status.RUNNING,
                started_at=now,
                heartbeat_at=now,
                worker_host=host_name(),
                worker_pid=os.getpid(),
                storage_prefix=prefix,
            )
    except IntegrityError:  # the partial unique index: another run holds "running"
        return False
    return True if claimed else None


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-")[:80] or "item"


def _back_up_source(
    run: BackupRun, index: int, source: Source, storage: Storage, progress: Progress, streams: list[SourceStream]
) -> BackupArtifact:
    encrypt = bool(settings.BACKUP_AGE_RECIPIENTS)
    writer: ArtifactWriter | None = None
    try:
        with source.open() as stream:
            streams.append(stream)
            path = f"{run.storage_prefix}/{index:02d}-{source.kind}-{_slug(source.name)}.{stream.extension}.zst"
            path += ".age" if encrypt else ""
            writer = ArtifactWriter(storage, path)
            raw_bytes = encode(reader=stream.reader, writer=writer, encrypt=encrypt, on_bytes=progress.add)
        writer.commit()
    except BaseException:
        if writer is not None:
            writer.abort()
        raise
    return BackupArtifact.objects.create(
        run=run,
        kind=source.kind,
        name=source.name,
        path=path,
        stored_bytes=writer.bytes_written,
        raw_bytes=raw_bytes,
        sha256=writer.sha256.hexdigest(),
        compression="zstd",
        encrypted=encrypt,
        format=stream.format,
        metadata=stream.metadata,
    )


class _Ending:
    """The run's one failure: the first error wins, whether the streaming thread or the stall watchdog meets it."""

    def __init__(self, run: BackupRun, progress: Progress) -> None:
        self.run = run
        self.progress = progress
        self.error = ""
        self.files_possible = False  # set once a source starts writing: before that there is nothing to remove
        self.recorded = threading.Event()
        self._lock = threading.Lock()

    def fail(self, error: str, *, source: str) -> None:
        with self._lock:
            first = not self.error
            if first:
                self.error = error
        if not first:
            # The watchdog failed the run already: wait until it is written, then remove what the stream added since.
            self.recorded.wait(settings.BACKUP_CLEANUP_TIMEOUT.total_seconds() + 30)
            if self.files_possible:
                remove_files_of(self.run.storage_prefix)
            return
        self.progress.log(f"failed: {error}")
        try:
            backup_run_fail(run=self.run, error=error, source=source, lines=self.progress.lines,
                            bytes_done=self.progress.bytes_done, remove_files=self.files_possible)
        finally:
            self.recorded.set()


def _watch_for_stall(ending: _Ending, progress: Progress, streams: list[SourceStream]) -> Callable[[str], None]:
    def on_stall(message: str) -> None:
        current = progress.current
        error = f"{current}: {message}" if current else message
        progress.cancelled = error
        for stream in streams:  # unblock the streaming thread where the source allows it (pg_dump is ended)
            if stream.cancel is not None:
                with contextlib.suppress(Exception):
                    stream.cancel()
        ending.fail(scrub_secrets(error), source=current)

    return on_stall


def backup_run_execute(*, run_id: int, on_progress: Callable[[Progress], None] | None = None) -> BackupRun | None:
    """Run a queued backup to its end; the outcome is on the returned run. None if another delivery claimed it.

    Whatever ends it (an error, SIGINT or SIGTERM, a stall) the run is failed and its files removed before this
    returns; an interruption (BaseException) is raised again afterwards, so the process still exits.
    """
    run = BackupRun.objects.filter(pk=run_id).first()
    if run is None:
        return None
    if run.kind == BackupRun.Kind.PHYSICAL:  # pgBackRest's runs are carried out by backups/physical/
        from backups.physical.backup import physical_backup_execute

        return physical_backup_execute(run_id=run_id, on_progress=on_progress)
    claimed = _claim(run)
    if claimed is None:
        return None
    if claimed is False:
        BackupRun.objects.filter(pk=run.pk, status=BackupRun.Status.QUEUED).update(
            status=BackupRun.Status.FAILED,
            finished_at=timezone.now(),
            error=_("Another backup was running; this one did not start."),
        )
        run.refresh_from_db()
        announce_failure(run)
        return run
    run.refresh_from_db()
    progress = Progress(run.pk, on_flush=on_progress)
    ending = _Ending(run, progress)
    streams: list[SourceStream] = []
    progress.on_stall = _watch_for_stall(ending, progress, streams)
    current: Source | None = None
    with signals_interrupt():
        progress.start()
        try:
            storage = backup_storage()
            sources = selected(run.only)
            if not sources:
                raise SourceError(_("Nothing to back up: no source is configured (or none matches)."))
            for source in sources:
                current = source
                progress.current = repr(source)
                source.preflight()
            current = None
            progress.current = ""
            # raw bytes expected, for the percentage and ETA of the pages and the CLI (None: no source could tell)
            progress.estimated = sources_estimate(sources)
            BackupRun.objects.filter(pk=run.pk).update(estimated_bytes=progress.estimated)
            progress.log(f"backing up {', '.join(map(repr, sources))}")
            artifacts = []
            ending.files_possible = True
            for index, source in enumerate(sources, start=1):
                current = source
                progress.current = repr(source)
                progress.log(f"{source}: started")
                artifact = _back_up_source(run, index, source, storage, progress, streams)
                artifacts.append(artifact)
                progress.log(f"{source}: {artifact.raw_bytes} bytes read, {artifact.stored_bytes} stored")
            current = None
            progress.current = ""
            run.finished_at = timezone.now()
            manifest.write(storage, run, artifacts)
            progress.stop()
            progress.log("succeeded")
            done = BackupRun.objects.filter(pk=run.pk, status=BackupRun.Status.RUNNING).update(
                status=BackupRun.Status.SUCCEEDED,
                finished_at=run.finished_at,
                total_bytes=sum(a.stored_bytes for a in artifacts),
                bytes_done=progress.bytes_done,
                current_artifact="",
                heartbeat_at=timezone.now(),
                log=progress.text,
            )
            # Failed meanwhile (stalled, or the reaper declared it lost): keep no files of a failed run. Succeeded
            # meanwhile (the reaper found the manifest just written and marked it from storage): keep them.
            if not done and not BackupRun.objects.filter(pk=run.pk, status=BackupRun.Status.SUCCEEDED).exists():
                remove_files_of(run.storage_prefix)
                BackupArtifact.objects.filter(run=run).delete()
            run.refresh_from_db()
            if run.status == BackupRun.Status.SUCCEEDED:
                backup_succeeded.send(sender=BackupRun, run=run)
            return run
        except BaseException as exc:
            with signals_deferred():
                progress.stop()
                where = f"{current}: " if current is not None else ""
                message = scrub_secrets(f"{where}{describe_exception(exc)}")
                if isinstance(exc, Exception):
                    progress.lines.append(scrub_secrets(traceback.format_exc()))
                ending.fail(message, source=repr(current) if current is not None else "")
                try:
                    run.refresh_from_db()
                except Exception:  # the database is down: the failure is journalled; say so to the caller
                    run.status, run.error = BackupRun.Status.FAILED, ending.error
            if not isinstance(exc, Exception):
                raise
            return run


def backup_run_scheduled() -> BackupRun | None:
    """The nightly backup: create a run with trigger "scheduled" and run it here (the task is on the backups queue).

    None when another backup is queued or running (logged: that one covers tonight).
    """
    try:
        run = backup_run_create(trigger=BackupRun.Trigger.SCHEDULED, actor="schedule")
    except BackupBusy as exc:
        logger.warning("scheduled backup skipped: %s", exc)
        return None
    return backup_run_execute(run_id=run.pk)
