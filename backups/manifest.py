"""The manifest: a JSON file beside each succeeded run's files, enough to rebuild the catalog or restore by hand."""

from __future__ import annotations

import json
import uuid
from pathlib import PurePosixPath

from django.core.files.storage import Storage
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

from backups.models import BackupArtifact, BackupRun
from backups.storage import open_stored, write_small_file

MANIFEST_NAME = "manifest.json"
FORMAT = "opsportal-backup-manifest"
VERSION = 1

# Per format: what comes before and after the decode, which is `age -d … | zstd -d` only for an encrypted artifact.
HOW_TO_RESTORE = {
    "pg_dump-custom": ("", "| pg_restore --clean --if-exists --single-transaction -d DBNAME"),
    # With the portal stopped; WAL mode (the embedded default) would replay a crashed portal's leftover log on top.
    "sqlite3": ("rm -f opsportal.sqlite3-wal opsportal.sqlite3-shm && ", "> opsportal.sqlite3"),
    "file": ("", "> PATH"),
    "tar": ("", "| tar -x -C VOLUME_MOUNTPOINT"),
}


def how_to_restore(artifact: BackupArtifact) -> str:
    """The shell line that restores `artifact` by hand with age, zstd and the format's own tool."""
    if artifact.format not in HOW_TO_RESTORE:
        return ""
    before, after = HOW_TO_RESTORE[artifact.format]
    decode = "age -d -i KEY FILE | zstd -d" if artifact.encrypted else "zstd -d < FILE"
    return f"{before}{decode} {after}"


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
        "how_to_restore": {a.path: how_to_restore(a) for a in artifacts},
    }


def write(storage: Storage, run: BackupRun, artifacts: list[BackupArtifact]) -> str:
    name = manifest_path(run.storage_prefix)
    write_small_file(storage, name, json.dumps(build(run, artifacts), indent=2, sort_keys=True).encode())
    return name


RUN_KEYS = ("uuid", "created_at")


class ManifestProblem(Exception):
    """This folder cannot be indexed as a backup; the message says why (for the operator)."""


def inside_folder(path: str, prefix: str) -> bool:
    """True when path names a file directly inside the run's folder (no traversal, no other run's file)."""
    parts = PurePosixPath(path).parts
    return (
        bool(prefix)
        and len(parts) == 2
        and parts[0] == prefix
        and parts[1] not in ("", ".", "..")
        and "\\" not in path
        and "\x00" not in path
    )


def read_checked(storage: Storage, prefix: str) -> dict:
    """The folder's manifest, checked: well formed, complete, and every file in it present at its size.

    Checksums are not recomputed (that is verification's work and reads every byte); sizes cost one stat or HEAD.
    Raises ManifestProblem saying what is wrong.
    """
    try:
        with open_stored(storage, manifest_path(prefix)) as handle:
            raw = handle.read()
    except FileNotFoundError:
        raise ManifestProblem(_("no manifest.json (not a backup folder, or a backup that did not finish)")) from None
    try:
        data = json.loads(raw)
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError
        raise ManifestProblem(_("manifest.json is not valid JSON (%(error)s)") % {"error": exc}) from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ManifestProblem(_("manifest.json is not an OpsPortal backup manifest"))
    _check_fields(data)
    for artifact in data["artifacts"]:
        _check_file(storage, prefix, artifact)
    return data


def _check_fields(data: dict) -> None:
    run, artifacts = data.get("run"), data.get("artifacts")
    missing = [key for key in ("run", "artifacts") if key not in data]
    if isinstance(run, dict):
        missing += [f"run.{key}" for key in RUN_KEYS if not run.get(key)]
    required = artifact_to_dict(BackupArtifact()).keys()
    if isinstance(artifacts, list):
        for index, artifact in enumerate(artifacts):
            if not isinstance(artifact, dict):
                missing.append(f"artifacts[{index}]")
                continue
            missing += [f"artifacts[{index}].{key}" for key in required if key not in artifact]
    if missing:
        raise ManifestProblem(_("manifest.json is missing %(keys)s") % {"keys": ", ".join(missing)})
    if not isinstance(run, dict) or not isinstance(artifacts, list) or not artifacts:
        raise ManifestProblem(_("manifest.json has no run or no artifacts"))
    try:
        uuid.UUID(str(run["uuid"]))
        for key in ("created_at", "started_at", "finished_at"):
            if run.get(key) and parse_datetime(run[key]) is None:
                raise ValueError(key)
        for artifact in artifacts:
            int(artifact["stored_bytes"])
            int(artifact["raw_bytes"])
    except (TypeError, ValueError) as exc:
        raise ManifestProblem(_("manifest.json has an invalid value (%(error)s)") % {"error": exc}) from None


def _check_file(storage: Storage, prefix: str, artifact: dict) -> None:
    path = str(artifact["path"])
    if not inside_folder(path, prefix):
        raise ManifestProblem(_("%(path)s is outside the folder %(prefix)s") % {"path": path, "prefix": prefix})
    try:
        size = storage.size(path)
    except FileNotFoundError:
        raise ManifestProblem(_("%(path)s is missing from storage.") % {"path": path}) from None
    except Exception as exc:  # S3 answers a missing key with a ClientError (404)
        raise ManifestProblem(_("%(path)s could not be read (%(error)s)") % {"path": path, "error": exc}) from None
    if size != int(artifact["stored_bytes"]):
        raise ManifestProblem(
            _("%(path)s is %(actual)s bytes, the manifest says %(expected)s")
            % {"path": path, "actual": size, "expected": artifact["stored_bytes"]}
        )


def read(storage: Storage, prefix: str) -> dict | None:
    try:
        with open_stored(storage, manifest_path(prefix)) as handle:
            data = json.loads(handle.read())
    except FileNotFoundError:
        return None
    if data.get("format") != FORMAT:
        return None
    return data
