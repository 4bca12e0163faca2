"""Verification: every artifact's sha256 recomputed from storage; a drill restores the database into a scratch one."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from django.conf import settings
from django.db import connections
from django.utils import timezone
from django.utils.translation import gettext as _

from backups import postgres, sidecars, sqlite_tools
from backups.models import BackupArtifact, BackupRun
from backups.pipeline import AgeKeyError, decoded
from backups.services.backup import scrub_secrets
from backups.services.progress import DrillHeartbeat
from backups.services.scratch import scratch_database
from backups.services.swap import decoded_file, pg_restore_jobs, restore_jobs
from backups.sources import database_kinds
from backups.sources.database import PG_FORMAT, SQLITE_FORMAT, pg_create_database
from backups.storage import backup_storage, open_stored, sha256_of

logger = logging.getLogger("backups")


@dataclass
class VerifyResult:
    run: BackupRun
    ok: bool
    problems: list[str] = field(default_factory=list)
    checked: list[str] = field(default_factory=list)
    drill_seconds: float | None = None


def artifact_problems(artifact: BackupArtifact) -> list[str]:
    """Why this stored file is not the one the backup wrote (empty if it is)."""
    try:
        digest, size = sha256_of(backup_storage(), artifact.path)
    except FileNotFoundError:
        return [_("%(path)s is missing from storage.") % {"path": artifact.path}]
    if digest != artifact.sha256 or size != artifact.stored_bytes:
        return [
            _("%(path)s is corrupt: sha256 %(actual)s (%(size)s bytes), expected %(expected)s (%(bytes)s bytes).")
            % {
                "path": artifact.path,
                "actual": digest,
                "size": size,
                "expected": artifact.sha256,
                "bytes": artifact.stored_bytes,
            }
        ]
    return []


def _drill_server(artifact: BackupArtifact) -> dict:
    """Where a drill builds its scratch database: the backed-up database's own server, else the portal's."""
    if artifact.kind == "postgres" and artifact.name in settings.BACKUP_DATABASE_URLS:
        return settings.BACKUP_DATABASE_URLS[artifact.name]
    if artifact.kind == "database" and artifact.name in connections:
        return connections[artifact.name].settings_dict
    return connections["default"].settings_dict


def _drill_postgres(artifact: BackupArtifact, on_bytes: Callable[[int], None]) -> tuple[dict[str, int], float]:
    base = _drill_server(artifact)
    started = time.monotonic()
    # owned through an advisory lock and dropped at the end; if this worker is killed, the reaper drops it
    # the same way an in-place restore runs (pg_restore -j BACKUP_RESTORE_JOBS from a decoded file), so the RTO is
    # the one a restore would take
    with scratch_database(base, artifact.run_id) as scratch:
        pg_create_database(scratch)
        with decoded_file(artifact, on_bytes=on_bytes) as path:
            pg_restore_jobs(scratch, path, jobs=restore_jobs(), log=lambda line: None)
        seconds = time.monotonic() - started
        with postgres.connect(scratch) as conn:
            return postgres.row_counts(conn), seconds


def _drill_sqlite(artifact: BackupArtifact, on_bytes: Callable[[int], None]) -> tuple[dict[str, int], float]:
    started = time.monotonic()
    with sqlite_tools.private_tempdir() as folder:
        copy = folder / "drill.sqlite3"
        with (
            open_stored(backup_storage(), artifact.path) as handle,
            decoded(handle, encrypted=artifact.encrypted, limit=artifact.raw_bytes, on_bytes=on_bytes) as reader,
        ):
            sqlite_tools.write_stream(reader, copy)
        seconds = time.monotonic() - started
        return sqlite_tools.row_counts(copy), seconds


def backup_run_verify(
    *, run_id: int, drill: bool = False, on_progress: Callable[[DrillHeartbeat], None] | None = None
) -> VerifyResult:
    """Check every artifact's sha256; with `drill`, also restore the database artifacts into scratch databases.

    A drill's progress (raw bytes decoded against the artifacts' raw size) is written on the run while it goes
    (DrillHeartbeat); `on_progress` is told the heartbeat after each beat, from its thread (the CLI's bar).
    """
    run = BackupRun.objects.get(pk=run_id)
    result = VerifyResult(run=run, ok=True)
    if run.status != BackupRun.Status.SUCCEEDED:
        result.ok = False
        result.problems.append(_("Backup #%(id)s did not succeed; there is nothing to verify.") % {"id": run.pk})
        return result
    if run.kind == BackupRun.Kind.PHYSICAL:  # pgbackrest verify, or a PITR drill (backups/physical/)
        from backups.physical.verify import physical_verify

        return physical_verify(run=run, drill=drill, result=result)
    artifacts = list(run.artifacts.all())
    for artifact in artifacts:
        problems = artifact_problems(artifact)
        result.problems += problems
        if not problems:
            result.checked.append(f"{artifact.kind}:{artifact.name} sha256 ok")
    if not drill or result.problems:
        return _record(run, result, drill=drill)
    databases = database_kinds()
    drilled = [a for a in artifacts if a.kind in databases and a.format in DRILLS]
    heartbeat = DrillHeartbeat(run.pk, sum(a.raw_bytes for a in drilled) or None, on_flush=on_progress)
    heartbeat.start()
    try:
        _drill(drilled, result, heartbeat)
        return _record(run, result, drill=drill)
    finally:
        heartbeat.stop()  # after the outcome is recorded: a page that sees the drill end reloads onto its outcome


DRILLS = {PG_FORMAT: _drill_postgres, SQLITE_FORMAT: _drill_sqlite}


def _drill(artifacts: list[BackupArtifact], result: VerifyResult, heartbeat: DrillHeartbeat) -> None:
    for artifact in artifacts:
        try:
            counts, seconds = DRILLS[artifact.format](artifact, heartbeat.add)
        except (AgeKeyError, postgres.ToolError, Exception) as exc:  # any failure is the drill's finding
            result.problems.append(scrub_secrets(f"{artifact.kind}:{artifact.name}: drill failed: {exc}"))
            continue
        result.drill_seconds = (result.drill_seconds or 0) + seconds
        expected = artifact.metadata.get("row_counts") or {}
        for table, count in sorted(expected.items()):
            if counts.get(table) != count:
                result.problems.append(
                    _("%(table)s has %(actual)s rows after the drill, the backup recorded %(expected)s.")
                    % {"table": table, "actual": counts.get(table), "expected": count}
                )
        result.checked.append(
            f"{artifact.kind}:{artifact.name} drill: {len(expected)} tables, row counts compared, {seconds:.1f}s"
        )


def _record(run: BackupRun, result: VerifyResult, *, drill: bool) -> VerifyResult:
    result.ok = not result.problems
    if not result.ok:
        verification = BackupRun.Verification.FAILED
    elif drill:
        verification = BackupRun.Verification.DRILL_PASSED
    else:
        verification = BackupRun.Verification.VERIFIED
    updates = {
        "verification": verification,
        "verified_at": timezone.now(),
        "verification_detail": "\n".join(result.problems or result.checked),
    }
    if drill and result.drill_seconds is not None:
        updates["drill_rto_seconds"] = result.drill_seconds
    BackupRun.objects.filter(pk=run.pk).update(**updates)
    run.refresh_from_db()
    keep_beside(run)
    result.run = run
    return result


def keep_beside(run: BackupRun) -> None:
    """Write the outcome beside the backup too (verification.json), so it survives a restore of the catalog."""
    try:
        sidecars.write_verification(backup_storage(), run)
    except Exception as exc:  # the verification itself is done and recorded; losing the copy is only logged
        logger.warning("backup run %s: could not write %s: %s", run.pk, sidecars.VERIFICATION_NAME, exc)


def backup_run_drill_latest() -> VerifyResult | None:
    """The weekly drill: restore the newest complete successful backup into a scratch database; None if none."""
    run = (
        BackupRun.objects.filter(status=BackupRun.Status.SUCCEEDED, only=[], kind=BackupRun.Kind.LOGICAL)
        .exclude(trigger=BackupRun.Trigger.SAFETY)
        .order_by("-created_at", "-id")
        .first()
    )
    return backup_run_verify(run_id=run.pk, drill=True) if run is not None else None
