"""The manifest: a JSON file beside each succeeded run's files, enough to rebuild the catalog or restore by hand."""

from __future__ import annotations

import json

from django.core.files.storage import Storage

from backups.models import BackupArtifact, BackupRun
from backups.storage import open_stored, write_small_file

MANIFEST_NAME = "manifest.json"
FORMAT = "opsportal-backup-manifest"
VERSION = 1

HOW_TO_RESTORE = {
    "pg_dump-custom": "age -d -i KEY FILE | zstd -d | pg_restore --clean --if-exists --single-transaction -d DBNAME",
    # With the portal stopped; WAL mode (the embedded default) would replay a crashed portal's leftover log on top.
    "sqlite3": "rm -f opsportal.sqlite3-wal opsportal.sqlite3-shm && age -d -i KEY FILE | zstd -d > opsportal.sqlite3",
    "file": "age -d -i KEY FILE | zstd -d > PATH",
    "tar": "age -d -i KEY FILE | zstd -d | tar -x -C VOLUME_MOUNTPOINT",
}


def manifest_path(prefix: str) -> str:
    return f"{prefix}/{MANIFEST_NAME}"


def artifact_to_dict(artifact: BackupArtifact) -> dict:
    return {
        "kind": artifact.kind,
        "name": artifact.name,
        "path": artifact.path,
        "stored_bytes": artifact.stored_bytes,
        "raw_bytes": artifact.raw_bytes,
        "sha256": artifact.sha256,
        "compression": artifact.compression,
        "encrypted": artifact.encrypted,
        "format": artifact.format,
        "metadata": artifact.metadata,
    }


def build(run: BackupRun, artifacts: list[BackupArtifact]) -> dict:
    return {
        "format": FORMAT,
        "version": VERSION,
        "run": {
            "id": run.pk,
            "uuid": str(run.uuid),
            "trigger": run.trigger,
            "triggered_by": run.triggered_by_name,
            "created_at": run.created_at.isoformat(),
            "started_at": run.started_at.isoformat() if run.started_at else None,
            "finished_at": run.finished_at.isoformat() if run.finished_at else None,
            "worker_host": run.worker_host,
            "total_bytes": sum(a.stored_bytes for a in artifacts),
        },
        "artifacts": [artifact_to_dict(a) for a in artifacts],
        "how_to_restore": {a.path: HOW_TO_RESTORE.get(a.format, "") for a in artifacts},
    }


def write(storage: Storage, run: BackupRun, artifacts: list[BackupArtifact]) -> str:
    name = manifest_path(run.storage_prefix)
    write_small_file(storage, name, json.dumps(build(run, artifacts), indent=2, sort_keys=True).encode())
    return name


def read(storage: Storage, prefix: str) -> dict | None:
    try:
        with open_stored(storage, manifest_path(prefix)) as handle:
            data = json.loads(handle.read())
    except FileNotFoundError:
        return None
    if data.get("format") != FORMAT:
        return None
    return data
