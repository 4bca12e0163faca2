"""Rebuilding the catalog from the manifests in storage (after restoring the portal's own database, or by hand)."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from django.core.files.storage import Storage
from django.core.management.color import no_style
from django.db import connection, transaction
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

from backups import manifest, sidecars
from backups.models import BackupArtifact, BackupRun, RestoreRun
from backups.storage import backup_storage

logger = logging.getLogger("backups")


@dataclass
class SkippedFolder:
    folder: str
    reason: str


@dataclass
class CatalogReindex:
    """What a re-index did: the runs it created or updated, and the folders it skipped with the reason."""

    runs: list[BackupRun] = field(default_factory=list)
    skipped: list[SkippedFolder] = field(default_factory=list)


def reset_sequences() -> None:
    """Restored tables bring back old sequence values; move them past the ids re-inserted since."""
    statements = connection.ops.sequence_reset_sql(no_style(), [BackupRun, BackupArtifact, RestoreRun])
    with connection.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)


def _upsert_run(data: dict, prefix: str) -> BackupRun:
    info = data["run"]
    run_uuid = uuid.UUID(info["uuid"])
    fields = {
        "status": BackupRun.Status.SUCCEEDED,
        "trigger": info.get("trigger") or BackupRun.Trigger.MANUAL,
        "triggered_by_name": info.get("triggered_by") or "",
        "started_at": parse_datetime(info["started_at"]) if info.get("started_at") else None,
        "finished_at": parse_datetime(info["finished_at"]) if info.get("finished_at") else None,
        "worker_host": info.get("worker_host") or "",
        "storage_prefix": prefix,
        "total_bytes": info.get("total_bytes") or 0,
    }
    run = BackupRun.objects.filter(uuid=run_uuid).first()
    if run is None:
        keep_id = info.get("id") and not BackupRun.objects.filter(pk=info["id"]).exists()
        run = BackupRun(uuid=run_uuid, **fields)
        if keep_id:
            run.pk = info["id"]
        run.save(force_insert=True)
    else:
        BackupRun.objects.filter(pk=run.pk).update(**fields)
    # created_at is auto_now_add: set it with an update so it keeps the manifest's value.
    BackupRun.objects.filter(pk=run.pk).update(created_at=parse_datetime(info["created_at"]))
    BackupArtifact.objects.filter(run=run).delete()
    for item in data["artifacts"]:
        BackupArtifact.objects.create(
            run=run, **{key: item[key] for key in manifest.artifact_to_dict(BackupArtifact())}
        )
    run.refresh_from_db()
    return run


def _apply_verification(storage: Storage, run: BackupRun, report: CatalogReindex) -> None:
    folder = run.storage_prefix
    try:
        fields = sidecars.read_verification(storage, folder)
    except Exception as exc:  # SidecarProblem or a storage error: the run is indexed, this one fact is not
        report.skipped.append(SkippedFolder(f"{folder}/{sidecars.VERIFICATION_NAME}", str(exc)))
        return
    if fields is not None:
        with transaction.atomic():
            BackupRun.objects.filter(pk=run.pk).update(**fields)


def _restore_sidecars(storage: Storage, run: BackupRun, report: CatalogReindex) -> None:
    folder = run.storage_prefix
    try:
        _folders, files = storage.listdir(folder)
    except Exception as exc:
        report.skipped.append(SkippedFolder(folder, str(exc)))
        return
    for name in sidecars.restore_names(files):
        path = f"{folder}/{name}"
        try:
            data = sidecars.read_restore(storage, path)
            if data["source_run_uuid"] != str(run.uuid):
                other = data["source_run_uuid"]
                raise sidecars.SidecarProblem(_("it names another backup (%(uuid)s)") % {"uuid": other})
            with transaction.atomic():
                _upsert_restore(data)
        except Exception as exc:
            report.skipped.append(SkippedFolder(path, str(exc)))


def _upsert_restore(data: dict) -> RestoreRun:
    """Create or update the RestoreRun of a restore sidecar; one restore is (backup UUID, created_at)."""
    fields = dict(data["fields"])
    created_at = fields.pop("created_at")
    source_uuid = uuid.UUID(data["source_run_uuid"])
    fields["source_run"] = BackupRun.objects.filter(uuid=source_uuid).first()
    safety = data.get("safety_run_uuid")
    fields["safety_run"] = BackupRun.objects.filter(uuid=uuid.UUID(safety)).first() if safety else None
    fields["triggered_by"] = get_user_model().objects.filter(
        **{get_user_model().USERNAME_FIELD: fields["triggered_by_name"]}
    ).first() if fields["triggered_by_name"] else None
    restore = RestoreRun.objects.filter(source_run_uuid=source_uuid, created_at=created_at).first()
    if restore is None:
        restore = RestoreRun(source_run_uuid=source_uuid, **fields)
        if data.get("id") and not RestoreRun.objects.filter(pk=data["id"]).exists():
            restore.pk = data["id"]
        restore.save(force_insert=True)
        RestoreRun.objects.filter(pk=restore.pk).update(created_at=created_at)  # auto_now_add: set it afterwards
    else:
        RestoreRun.objects.filter(pk=restore.pk).update(**fields)
    return restore


def backup_run_repair_from_manifest(*, run: BackupRun, data: dict, note: str) -> BackupRun | None:
    """Mark a run the catalog still shows running succeeded from its complete manifest; None if it changed meanwhile.

    The claim (running, same heartbeat → succeeded) and the rewrite from the manifest are one transaction, so a
    worker finishing at the same moment and this repair cannot both act on the run.
    """
    storage = backup_storage()
    with transaction.atomic():
        claimed = BackupRun.objects.filter(
            pk=run.pk, status=BackupRun.Status.RUNNING, heartbeat_at=run.heartbeat_at
        ).update(status=BackupRun.Status.SUCCEEDED, error="", current_artifact="", log=f"{run.log}\n{note}".strip())
        if not claimed:
            return None
        repaired = _upsert_run(data, run.storage_prefix)
        _apply_verification(storage, repaired, CatalogReindex())
        _restore_sidecars(storage, repaired, CatalogReindex())
    repaired.refresh_from_db()
    return repaired


def backup_catalog_reindex() -> CatalogReindex:
    """Create or update a succeeded run for every readable manifest in storage; skip and report the other folders.

    One unreadable folder (bad JSON, missing keys, a missing or truncated file, no manifest at all) never stops the
    others: each folder is indexed in a savepoint of its own.
    """
    storage = backup_storage()
    report = CatalogReindex()
    try:
        folders, _files = storage.listdir("")
    except FileNotFoundError:
        return report
    with transaction.atomic():
        indexed = []
        for folder in sorted(folders):
            try:
                data = manifest.read_checked(storage, folder)
                with transaction.atomic():
                    run = _upsert_run(data, folder)
                _apply_verification(storage, run, report)
                run.refresh_from_db()
                report.runs.append(run)
                indexed.append(run)
            except manifest.ManifestProblem as exc:
                report.skipped.append(SkippedFolder(folder, str(exc)))
            except Exception as exc:  # a value the catalog cannot hold (too long, wrong type): skip this folder only
                report.skipped.append(SkippedFolder(folder, f"{type(exc).__name__}: {exc}"))
        reset_sequences()
        # Restores second: the safety backup a restore took is a later folder, indexed by now.
        for run in indexed:
            _restore_sidecars(storage, run, report)
        reset_sequences()
    for skipped in report.skipped:
        logger.warning("re-index: skipped %s: %s", skipped.folder, skipped.reason)
    return report
