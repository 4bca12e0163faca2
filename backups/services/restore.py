"""Restore: every refusal happens before anything is touched; a safety backup comes next; then the restore.

Restoring the portal's own database brings back the catalog as it was at backup time, so the runs whose manifests
are in storage are re-indexed and this restore's own record is written again. A PostgreSQL database restored in
place is built beside the live one with `pg_restore -j` and swapped in (backups/services/swap.py); for the portal's
own database the migrations and that catalog repair run inside the new database BEFORE the swap, so the moment the
restored data is the live database its catalog is already right, with no worker, beat or re-index needed afterwards.
"""

from __future__ import annotations

import copy
import logging
import traceback
from collections.abc import Callable

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import connection, connections, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from backups import sidecars
from backups.manifest import inside_folder
from backups.models import BackupArtifact, BackupRun, RestoreRun
from backups.pipeline import AgeKeyError, age_identities, check_key_opens, decoded
from backups.services.backup import BackupBusy, backup_run_create, backup_run_execute, scrub_secrets
from backups.services.catalog import backup_catalog_reindex, reset_sequences
from backups.services.catalog_pending import catalog_reindex_owed, catalog_reindex_paid
from backups.services.progress import RestoreHeartbeat
from backups.services.swap import swap_restore
from backups.services.verify import artifact_problems
from backups.signals import restore_finished
from backups.sources import RestoreRefused, RestoreTarget, database_kinds, parse_selector, registry
from backups.sources.database import PG_FORMAT, POSTGRES
from backups.storage import backup_storage, open_stored

logger = logging.getLogger("backups")


def _select(run: BackupRun, only: str | None, into: str | None) -> list[BackupArtifact]:
    artifacts = list(run.artifacts.all())
    if only:
        kind, name = parse_selector(only)
        artifacts = [a for a in artifacts if a.kind == kind and (name is None or a.name == name)]
        if not artifacts:
            raise RestoreRefused(_("Backup #%(id)s has no artifact matching %(only)s.") % {"id": run.pk, "only": only})
    if into:
        databases = database_kinds()
        artifacts = [a for a in artifacts if a.kind in databases]
        if len(artifacts) != 1:
            raise RestoreRefused(
                _("--into restores one database; this backup holds %(count)s, choose one with --only database:ALIAS.")
                % {"count": len(artifacts)}
            )
    if not artifacts:
        raise RestoreRefused(_("Backup #%(id)s holds nothing to restore.") % {"id": run.pk})
    return artifacts


def _refusals(run: BackupRun, artifacts: list[BackupArtifact], target: RestoreTarget) -> None:
    if run.status != BackupRun.Status.SUCCEEDED:
        raise RestoreRefused(_("Backup #%(id)s did not succeed; it cannot be restored.") % {"id": run.pk})
    kinds = registry()
    for artifact in artifacts:
        if not inside_folder(artifact.path, run.storage_prefix):
            # A crafted manifest (re-indexed from storage) must not make the restore read outside the run's folder.
            raise RestoreRefused(
                _("Refusing to restore: %(path)s is outside the folder of backup #%(id)s.")
                % {"path": artifact.path, "id": run.pk}
            )
        if artifact.kind not in kinds:
            raise RestoreRefused(_("No restore is known for artifacts of kind %(kind)s.") % {"kind": artifact.kind})
        problems = artifact_problems(artifact)
        if problems:
            raise RestoreRefused(_("Refusing to restore: %(problem)s") % {"problem": problems[0]})
        if artifact.encrypted:
            try:
                identities = age_identities()
                with open_stored(backup_storage(), artifact.path) as handle:
                    check_key_opens(handle, identities)
            except AgeKeyError as exc:
                raise RestoreRefused(str(exc)) from None
        kinds[artifact.kind].check_restore(artifact, target)


def _is_portal_database(artifact: BackupArtifact, target: RestoreTarget) -> bool:
    return artifact.kind == "database" and not target.into and artifact.name == "default"


def _swaps(artifact: BackupArtifact, target: RestoreTarget) -> bool:
    """A PostgreSQL database restored over an existing one: built beside it with pg_restore -j, then swapped in.

    Also a database of BACKUP_DATABASE_URLS (kind postgres), but only the portal's own gets a `prepare` (migrations).
    """
    if artifact.kind not in database_kinds() or target.into or artifact.format != PG_FORMAT:
        return False
    return registry()[artifact.kind].target_db(artifact, target)["ENGINE"] == POSTGRES


def _in_database(name: str, work: Callable[[], None]) -> None:
    """Run `work` with Django's default connection pointed at database `name` (this thread only uses it)."""
    default = connections["default"].settings_dict
    live = default["NAME"]
    for alias in connections:
        connections[alias].close()
    default["NAME"] = name
    try:
        work()
    finally:
        for alias in connections:
            connections[alias].close()
        default["NAME"] = live


def _safety_backup(artifacts: list[BackupArtifact], target: RestoreTarget, user, actor: str) -> BackupRun | None:
    kinds = registry()
    only = [f"{a.kind}:{a.name}" for a in artifacts if kinds[a.kind].has_something_to_protect(a, target)]
    if not only:
        return None
    try:
        safety = backup_run_create(trigger=BackupRun.Trigger.SAFETY, user=user, actor=actor, only=only)
    except BackupBusy as exc:
        raise RestoreRefused(str(exc)) from None
    target.log(f"safety backup #{safety.pk} of {', '.join(only)}")
    safety = backup_run_execute(run_id=safety.pk)
    if safety is None or safety.status != BackupRun.Status.SUCCEEDED:
        error = safety.error if safety is not None else "not started"
        raise RuntimeError(_("The safety backup failed, so nothing was restored: %(error)s") % {"error": error})
    return safety


RESTORE_CREATE_LOCK_KEY = 0x6F70_7265_7374  # "oprest": serialises restore requests, as CREATE_LOCK_KEY does backups


class RestoreBusy(Exception):
    """A restore of the same target is already queued or running; no second RestoreRun was created."""

    def __init__(self, other: RestoreRun) -> None:
        self.other = other
        super().__init__(
            _("Restore #%(id)s of the same target is already %(status)s; wait for it to finish, then request this "
              "one again.") % {"id": other.pk, "status": other.get_status_display()}
        )


def restore_run_create_exclusive(**fields) -> RestoreRun:
    """Create a queued RestoreRun unless one of the same target is queued or running (then RestoreBusy).

    The same target: a logical restore's database or files (`target`, empty for the originals), a point-in-time
    restore's data directory, or the running cluster for one in place. A second request is refused with a message
    rather than queued behind the first, where it would silently restore over what the first just restored.
    """
    same = RestoreRun.objects.filter(status__in=[RestoreRun.Status.QUEUED, RestoreRun.Status.RUNNING],
                                     kind=fields.get("kind", BackupRun.Kind.LOGICAL))
    if fields.get("kind") == BackupRun.Kind.PHYSICAL:
        same = same.filter(in_place=True) if fields.get("in_place") else same.filter(pg_path=fields.get("pg_path"))
    else:
        same = same.filter(target=fields.get("target", ""))
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [RESTORE_CREATE_LOCK_KEY])
        other = same.order_by("created_at").first()
        if other is not None:
            raise RestoreBusy(other)
        return RestoreRun.objects.create(status=RestoreRun.Status.QUEUED, **fields)


def restore_run_create(
    *,
    run_id: int,
    into: str | None = None,
    only: str | None = None,
    user: AbstractBaseUser | None = None,
    actor: str = "",
) -> RestoreRun:
    """A queued RestoreRun of backup `run_id`: the record exists before any work, so a caller can link to it."""
    run = BackupRun.objects.filter(pk=run_id).first()
    return restore_run_create_exclusive(
        source_run=run,
        source_run_uuid=run.uuid if run else None,
        target=scrub_secrets(into or ""),
        only=only or "",
        triggered_by=user if user is not None and user.pk else None,
        triggered_by_name=user.get_username() if user is not None else actor,
    )


def restore_run_create_and_execute(
    *,
    run_id: int,
    into: str | None = None,
    only: str | None = None,
    user: AbstractBaseUser | None = None,
    actor: str = "",
    log: Callable[[str], None] | None = None,
    on_progress: Callable[[RestoreHeartbeat], None] | None = None,
) -> RestoreRun:
    """Restore backup `run_id` now; the outcome (succeeded, refused, failed) is on the returned RestoreRun.

    `on_progress` is told the heartbeat (its bytes done and figures) after each beat, from the heartbeat's thread.
    """
    restore = restore_run_create(run_id=run_id, into=into, only=only, user=user, actor=actor)
    executed = restore_run_execute(restore_id=restore.pk, into=into, log=log, requested_run_id=run_id,
                                   on_progress=on_progress)
    assert executed is not None  # just created, so nobody else can have claimed it
    return executed


def restore_run_execute(
    *,
    restore_id: int,
    into: str | None = None,
    log: Callable[[str], None] | None = None,
    requested_run_id: int | None = None,
    on_progress: Callable[[RestoreHeartbeat], None] | None = None,
) -> RestoreRun | None:
    """Carry out a queued RestoreRun; None if another delivery already claimed it (queued → running)."""
    if RestoreRun.objects.filter(pk=restore_id, kind=BackupRun.Kind.PHYSICAL).exists():
        from backups.physical.restore import physical_restore_execute  # point-in-time restores: pgBackRest

        return physical_restore_execute(restore_id=restore_id, log=log)
    lines: list[str] = []

    def log_line(line: str) -> None:
        lines.append(f"{timezone.now():%Y-%m-%d %H:%M:%S} {scrub_secrets(line)}")
        if log is not None:
            log(scrub_secrets(line))

    now = timezone.now()
    claimed = RestoreRun.objects.filter(pk=restore_id, status=RestoreRun.Status.QUEUED).update(
        status=RestoreRun.Status.RUNNING, started_at=now, heartbeat_at=now
    )
    if not claimed:
        return None
    heartbeat = RestoreHeartbeat(restore_id, on_flush=on_progress)
    heartbeat.start()
    restore = RestoreRun.objects.select_related("source_run", "triggered_by").get(pk=restore_id)
    run = restore.source_run
    user = restore.triggered_by
    actor = restore.triggered_by_name
    only = restore.only or None
    target = RestoreTarget(into=into, log=log_line)
    portal_db_restored = False
    reindex_owed = False
    later: list[Callable[[], None]] = []  # dropping the databases swapped out, once this restore is recorded
    try:
        if run is None:
            if requested_run_id is not None:
                raise RestoreRefused(_("There is no backup #%(id)s.") % {"id": requested_run_id})
            raise RestoreRefused(_("The backup to restore no longer exists."))
        artifacts = _select(run, only, into)
        heartbeat.expect(sum(a.raw_bytes for a in artifacts) or None)  # progress: decoded bytes of these
        kinds = registry()
        _refusals(run, artifacts, target)
        restore.target = scrub_secrets(
            "; ".join(f"{a.kind}:{kinds[a.kind].restore_target_label(a, target)}" for a in artifacts)
        )
        restore.save(update_fields=["target"])
        restore.safety_run = _safety_backup(artifacts, target, user, actor)
        restore.save(update_fields=["safety_run"])
        # Beside the backup before anything is overwritten: if this process dies once the portal's own database is
        # restored, the catalog (re-indexed from storage) still has this restore, and the reaper fails it.
        _keep_beside(restore)
        storage = backup_storage()
        # the portal's own database last: once it is swapped in (its catalog saying succeeded), nothing else can fail
        artifacts.sort(key=lambda artifact: _is_portal_database(artifact, target))
        for artifact in artifacts:
            log_line(f"restoring {artifact.kind}:{artifact.name} from {artifact.path}")
            if _swaps(artifact, target):
                prepared: list[RestoreRun] = []
                prepare = None
                if _is_portal_database(artifact, target):

                    def prepare(new_db: dict, prepared: list[RestoreRun] = prepared) -> None:
                        heartbeat.stop()  # its thread would otherwise write to the database being swapped out
                        record = copy.deepcopy(restore)  # the live catalog's copy stays as it was
                        _in_database(new_db["NAME"], lambda: _prepare_catalog(record, lines, log_line))
                        prepared.append(record)

                swap_restore(kinds[artifact.kind].target_db(artifact, target), artifact, restore.pk, log=log_line,
                             prepare=prepare, later=later, on_bytes=heartbeat.add)
                if prepared:  # this record as written in the swapped-in catalog (its id may differ there)
                    record = prepared[0]
                    restore.pk, restore.created_at = record.pk, record.created_at
                    restore.source_run, restore.safety_run = record.source_run, record.safety_run
                    restore.triggered_by = record.triggered_by
                continue
            if _is_portal_database(artifact, target):
                catalog_reindex_owed(restore_id=restore.pk)  # paid by _rewrite_catalog, or by the next reaper tick
                reindex_owed = True
            with (
                open_stored(storage, artifact.path) as handle,
                decoded(handle, encrypted=artifact.encrypted, limit=artifact.raw_bytes,
                        on_bytes=heartbeat.add) as reader,
            ):
                kinds[artifact.kind].restore(artifact, reader, target)
            # only once it is in: a restore that failed first left the database (and its catalog) as it was
            portal_db_restored = portal_db_restored or _is_portal_database(artifact, target)
        restore.status = RestoreRun.Status.SUCCEEDED
        log_line("succeeded")
    except RestoreRefused as exc:
        restore.status = RestoreRun.Status.REFUSED
        restore.error = scrub_secrets(str(exc))
        log_line(f"refused: {restore.error}")
    except Exception as exc:
        restore.status = RestoreRun.Status.FAILED
        restore.error = scrub_secrets(str(exc))
        log_line(f"failed: {restore.error}")
        lines.append(scrub_secrets(traceback.format_exc()))
    heartbeat.stop()
    # the record is saved whole below: it carries the last count, not the one it was loaded with
    restore.bytes_done, restore.bytes_total = heartbeat.bytes_done, heartbeat.bytes_total
    restore.finished_at = timezone.now()
    if reindex_owed and not portal_db_restored:
        catalog_reindex_paid()  # pg_restore rolled back: the catalog is as it was, nothing is owed
    elif portal_db_restored:
        try:
            _migrate_restored_schema(log_line)
            _rewrite_catalog(restore, log_line)
        except Exception as exc:  # the data is in; the record of this restore must be written all the same
            restore.error = "\n".join(filter(None, [restore.error, scrub_secrets(
                _("The database was restored, but the portal could not bring its schema and catalog up to date: "
                  "%(error)s. Run `manage.py migrate` and then `manage.py backup --reindex`.") % {"error": exc})]))
            log_line(f"after the restore: {restore.error}")
            lines.append(scrub_secrets(traceback.format_exc()))
            for alias in connections:
                connections[alias].close()
    restore.log = "\n".join(lines)
    _save_record(restore)
    _keep_beside(restore)
    # A receiver that raises is logged (django.dispatch), never turned into a traceback after the data was restored.
    restore_finished.send_robust(sender=RestoreRun, restore=restore)
    for work in later:
        work()  # the database swapped out is dropped after the outcome is recorded (the reaper does it if we die)
    return restore


def _prepare_catalog(record: RestoreRun, lines: list[str], log_line: Callable[[str], None]) -> None:
    """Inside the restored database, before it is swapped in: migrate, re-index from storage, write this restore.

    Any failure here raises, so the swap does not happen and the live database stays as it was.
    """
    _migrate_restored_schema(log_line)
    for alias in connections:
        connections[alias].close()
    report = backup_catalog_reindex()
    log_line(f"catalog re-indexed from storage: {len(report.runs)} run(s)")
    for skipped in report.skipped:
        log_line(f"catalog re-index skipped {skipped.folder}: {skipped.reason}")
    _relink(record)
    record.status = RestoreRun.Status.SUCCEEDED
    record.finished_at = timezone.now()
    record.log = "\n".join([*lines, f"{timezone.now():%Y-%m-%d %H:%M:%S} succeeded (as of the swap)"])
    _save_record(record)


def _migrate_restored_schema(log_line: Callable[[str], None]) -> None:
    """A backup taken before a migration brings back the older schema: apply what this code has since added.

    They are the same migrations that made the newer schema from the older one, so the portal's tables (and every
    module's) match its code again before anything reads them (the catalog re-index is next).
    """
    from django.core.management import call_command
    from django.db.migrations.executor import MigrationExecutor

    for alias in connections:
        connections[alias].close()
    executor = MigrationExecutor(connections["default"])
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    if not plan:
        return
    names = ", ".join(f"{migration.app_label}.{migration.name}" for migration, backwards in plan if not backwards)
    log_line(f"the restored database predates {len(plan)} migration(s) of this code; applying them: {names}")
    call_command("migrate", interactive=False, verbosity=0)
    log_line("migrations applied")


def _save_record(restore: RestoreRun) -> None:
    """Write this restore's record; after a restore of the portal database it may have to be inserted again."""
    same = RestoreRun.objects.filter(pk=restore.pk, created_at=restore.created_at)
    if same.exists():
        restore.save()
        return
    created_at = restore.created_at
    if RestoreRun.objects.filter(pk=restore.pk).exists():  # the id went to another restore, re-indexed from storage
        restore.pk = None
    restore.save(force_insert=True)
    RestoreRun.objects.filter(pk=restore.pk).update(created_at=created_at)  # auto_now_add replaced it
    restore.created_at = created_at
    reset_sequences()


def _keep_beside(restore: RestoreRun) -> None:
    """Write the restore beside the backup it restored (a sidecar file), so the history survives the catalog."""
    run = restore.source_run
    if run is None or run.kind != BackupRun.Kind.LOGICAL or not run.storage_prefix:
        return
    if run.status != BackupRun.Status.SUCCEEDED:  # no folder of a failed run is written to
        return
    try:
        sidecars.write_restore(backup_storage(), run, restore)
    except Exception as exc:  # the restore is done and recorded; losing the copy is only logged
        logger.warning("restore %s: could not write its record beside backup %s: %s", restore.pk, run.pk, exc)


def _rewrite_catalog(restore: RestoreRun, log_line: Callable[[str], None]) -> None:
    """The restored catalog predates this restore: re-index runs from storage and write this record again."""
    for alias in connections:
        connections[alias].close()
    try:
        report = backup_catalog_reindex()
    except Exception as exc:  # the data is restored; a storage that cannot be listed must not turn that into a failure
        log_line(f"warning: the catalog could not be re-indexed from storage ({exc}); the next reaper tick tries again")
        catalog_reindex_owed(restore_id=restore.pk, owner_done=True)
    else:
        catalog_reindex_paid()
        log_line(f"catalog re-indexed from storage: {len(report.runs)} run(s)")
        for skipped in report.skipped:
            log_line(f"catalog re-index skipped {skipped.folder}: {skipped.reason}")
    _relink(restore)


def _relink(restore: RestoreRun) -> None:
    """Drop this restore's links to rows the restored catalog no longer has."""
    if restore.source_run_id and not BackupRun.objects.filter(pk=restore.source_run_id).exists():
        restore.source_run = BackupRun.objects.filter(uuid=restore.source_run_uuid).first()
    if restore.safety_run_id and not BackupRun.objects.filter(pk=restore.safety_run_id).exists():
        restore.safety_run = None
    if restore.triggered_by_id and not get_user_model().objects.filter(pk=restore.triggered_by_id).exists():
        restore.triggered_by = None
