"""Sidecar files: what happens to a backup after it was written, kept beside it so it survives the catalog.

`verification.json` holds the last verification or drill (outcome, when, detail, RTO); one `restore-<time>.json` per
restore made from the backup holds when, by whom, into what and how it ended (not its log). Each is written whole
and atomically (write_small_file: temporary file + rename locally, one PUT on S3): a reader sees the old or the new.
Re-indexing (backups/services/catalog.py) reads them back, so these facts return after a restore of the portal's
own database or on a new machine.
"""

from __future__ import annotations

import json
from datetime import UTC

from django.core.files.storage import Storage
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

from backups.models import BackupRun, RestoreRun
from backups.storage import open_stored, write_small_file

VERIFICATION_NAME = "verification.json"
RESTORE_PREFIX = "restore-"
VERIFICATION_FORMAT = "opsportal-backup-verification"
RESTORE_FORMAT = "opsportal-backup-restore"
VERSION = 1
# Not the log: pg_restore's messages may quote row values, and sidecars are not encrypted as the artifacts may be.
RESTORE_FIELDS = ("target", "only", "triggered_by_name", "status", "error")
RESTORE_TIMES = ("created_at", "started_at", "finished_at")


class SidecarProblem(Exception):
    """A sidecar file that cannot be read back; the message says why."""


def _iso(value) -> str | None:
    return value.isoformat() if value else None


def write_verification(storage: Storage, run: BackupRun) -> str:
    name = f"{run.storage_prefix}/{VERIFICATION_NAME}"
    data = {
        "format": VERIFICATION_FORMAT,
        "version": VERSION,
        "run_uuid": str(run.uuid),
        "verification": run.verification,
        "verified_at": _iso(run.verified_at),
        "verification_detail": run.verification_detail,
        "drill_rto_seconds": run.drill_rto_seconds,
    }
    write_small_file(storage, name, json.dumps(data, indent=2, sort_keys=True).encode())
    return name


def restore_name(run: BackupRun, restore: RestoreRun) -> str:
    # created_at never changes and is unique enough per backup: the same restore always rewrites the same file.
    stamp = restore.created_at.astimezone(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    return f"{run.storage_prefix}/{RESTORE_PREFIX}{stamp}.json"


def write_restore(storage: Storage, run: BackupRun, restore: RestoreRun) -> str:
    name = restore_name(run, restore)
    data = {
        "format": RESTORE_FORMAT,
        "version": VERSION,
        "id": restore.pk,
        "source_run_uuid": str(run.uuid),
        "safety_run_uuid": str(restore.safety_run.uuid) if restore.safety_run_id and restore.safety_run else None,
        **{key: _iso(getattr(restore, key)) for key in RESTORE_TIMES},
        **{key: getattr(restore, key) for key in RESTORE_FIELDS},
    }
    write_small_file(storage, name, json.dumps(data, indent=2, sort_keys=True).encode())
    return name


def _read(storage: Storage, name: str, expected_format: str) -> dict:
    try:
        with open_stored(storage, name) as handle:
            data = json.loads(handle.read())
    except ValueError as exc:
        raise SidecarProblem(_("not valid JSON (%(error)s)") % {"error": exc}) from None
    if not isinstance(data, dict) or data.get("format") != expected_format:
        raise SidecarProblem(_("not an %(format)s file") % {"format": expected_format})
    return data


def _time(data: dict, key: str):
    value = data.get(key)
    if not value:
        return None
    parsed = parse_datetime(value)
    if parsed is None:
        raise SidecarProblem(_("%(key)s is not a date and time: %(value)r") % {"key": key, "value": value})
    return parsed


def read_verification(storage: Storage, prefix: str) -> dict | None:
    """The BackupRun fields of the folder's verification.json; None when the backup was never verified."""
    try:
        data = _read(storage, f"{prefix}/{VERIFICATION_NAME}", VERIFICATION_FORMAT)
    except FileNotFoundError:
        return None
    outcome = data.get("verification") or ""
    if outcome not in BackupRun.Verification.values:
        raise SidecarProblem(_("unknown verification outcome %(value)r") % {"value": outcome})
    rto = data.get("drill_rto_seconds")
    return {
        "verification": outcome,
        "verified_at": _time(data, "verified_at"),
        "verification_detail": str(data.get("verification_detail") or ""),
        "drill_rto_seconds": float(rto) if isinstance(rto, int | float) else None,
    }


def restore_names(files: list[str]) -> list[str]:
    return sorted(name for name in files if name.startswith(RESTORE_PREFIX) and name.endswith(".json"))


def read_restore(storage: Storage, name: str) -> dict:
    """One restore sidecar, checked: the RestoreRun fields plus `id`, `source_run_uuid` and `safety_run_uuid`."""
    data = _read(storage, name, RESTORE_FORMAT)
    if not data.get("created_at") or not data.get("source_run_uuid"):
        raise SidecarProblem(_("created_at or source_run_uuid is missing"))
    status = data.get("status")
    if status not in RestoreRun.Status.values:
        raise SidecarProblem(_("unknown restore status %(value)r") % {"value": status})
    fields = {key: _time(data, key) for key in RESTORE_TIMES}
    fields |= {key: str(data.get(key) or "") for key in RESTORE_FIELDS}
    return {
        "id": data.get("id") if isinstance(data.get("id"), int) else None,
        "source_run_uuid": str(data["source_run_uuid"]),
        "safety_run_uuid": data.get("safety_run_uuid"),
        "fields": fields,
    }
