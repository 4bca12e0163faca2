"""Reads of the catalog, shared by the commands and (later) the admin and API."""

from __future__ import annotations

from django.db.models import QuerySet

from backups.models import BackupRun, RestoreRun


def backup_runs_recent(*, limit: int | None = None) -> QuerySet[BackupRun]:
    runs = BackupRun.objects.prefetch_related("artifacts").order_by("-created_at", "-id")
    return runs[:limit] if limit else runs


def backup_run_latest_succeeded() -> BackupRun | None:
    return BackupRun.objects.filter(status=BackupRun.Status.SUCCEEDED).order_by("-created_at", "-id").first()


def backup_run_as_dict(run: BackupRun) -> dict:
    return {
        "id": run.pk,
        "uuid": str(run.uuid),
        "status": run.status,
        "trigger": run.trigger,
        "triggered_by": run.triggered_by_name,
        "created_at": run.created_at.isoformat() if run.created_at else None,
        "started_at": run.started_at.isoformat() if run.started_at else None,
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
        "total_bytes": run.total_bytes,
        "bytes_done": run.bytes_done,
        "error": run.error,
        "verification": run.verification,
        "drill_rto_seconds": run.drill_rto_seconds,
        "storage_prefix": run.storage_prefix,
        "artifacts": [
            {
                "kind": a.kind,
                "name": a.name,
                "path": a.path,
                "size": a.stored_bytes,
                "raw_size": a.raw_bytes,
                "sha256": a.sha256,
                "encrypted": a.encrypted,
                "format": a.format,
            }
            for a in run.artifacts.all()
        ],
    }


def restore_run_as_dict(restore: RestoreRun) -> dict:
    return {
        "id": restore.pk,
        "source_run": restore.source_run_id,
        "target": restore.target,
        "status": restore.status,
        "safety_run": restore.safety_run_id,
        "error": restore.error,
    }
