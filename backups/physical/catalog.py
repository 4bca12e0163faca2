"""The physical catalog mirrors pgBackRest's own: `physical_catalog_reindex` rebuilds it from `pgbackrest info`.

Each set becomes (or updates) one succeeded BackupRun of kind physical, found by the run UUID the portal annotated it
with (sets taken by hand with pgbackrest get a UUID derived from the stanza and label). Pinning and the last drill
are annotations too, so they come back on a new machine. Succeeded physical runs whose set pgBackRest no longer has
(expired by hand, say) are removed from the catalog.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field

from django.db import transaction
from django.utils.dateparse import parse_datetime

from backups.models import BackupArtifact, BackupRun
from backups.physical import ARTIFACT_KIND, KIND
from backups.physical.backup import artifact_fields
from backups.physical.info import (
    BY_ANNOTATION,
    DRILL_ANNOTATION,
    PINNED_ANNOTATION,
    RUN_ANNOTATION,
    TRIGGER_ANNOTATION,
    BackupSet,
    StanzaInfo,
    stanza_info,
)


@dataclass
class ReindexReport:
    runs: list[BackupRun] = field(default_factory=list)
    removed: int = 0


def _run_uuid(backup: BackupSet, stanza_name: str) -> uuid.UUID:
    text = backup.annotations.get(RUN_ANNOTATION)
    if text:
        try:
            return uuid.UUID(text)
        except ValueError:
            pass
    return uuid.uuid5(uuid.NAMESPACE_URL, f"pgbackrest:{stanza_name}:{backup.label}")


def _drill_fields(backup: BackupSet) -> dict:
    raw = backup.annotations.get(DRILL_ANNOTATION)
    if not raw:
        return {}
    try:
        drill = json.loads(raw)
    except ValueError:
        return {}
    return {
        "verification": drill.get("outcome") or "",
        "verified_at": parse_datetime(drill["at"]) if drill.get("at") else None,
        "drill_rto_seconds": drill.get("rto"),
        "verification_detail": drill.get("detail") or "",
    }


def physical_catalog_reindex(info: StanzaInfo | None = None) -> ReindexReport:
    info = info or stanza_info()
    report = ReindexReport()
    valid = [b for b in info.backups if not b.error]
    with transaction.atomic():
        for backup in valid:
            run_uuid = _run_uuid(backup, info.name)
            trigger = backup.annotations.get(TRIGGER_ANNOTATION) or BackupRun.Trigger.CLI
            if trigger not in BackupRun.Trigger.values:
                trigger = BackupRun.Trigger.CLI
            fields = {
                "kind": KIND, "physical_type": backup.type, "status": BackupRun.Status.SUCCEEDED, "trigger": trigger,
                "triggered_by_name": backup.annotations.get(BY_ANNOTATION) or "pgbackrest", "storage_prefix": "",
                "started_at": backup.started_at, "finished_at": backup.stopped_at, "total_bytes": backup.repo_delta,
                "bytes_done": backup.size, "pinned": backup.pinned, "error": "", **_drill_fields(backup),
            }
            run = BackupRun.objects.filter(uuid=run_uuid).first()
            if run is not None and run.pinned and PINNED_ANNOTATION not in backup.annotations:
                fields["pinned"] = True  # pinned here before the annotation could be written: keep it
            if run is None:
                run = BackupRun.objects.create(uuid=run_uuid, **fields)
            elif run.status in (BackupRun.Status.QUEUED, BackupRun.Status.RUNNING):
                continue  # its own worker is about to record it
            else:
                BackupRun.objects.filter(pk=run.pk).update(**fields)
            BackupRun.objects.filter(pk=run.pk).update(created_at=backup.started_at)
            BackupArtifact.objects.filter(run=run).delete()
            BackupArtifact.objects.create(run=run, **artifact_fields(backup, info.name, info.cipher))
            run.refresh_from_db()
            report.runs.append(run)
        labels = {b.label for b in valid}
        gone = BackupRun.objects.filter(kind=KIND, status=BackupRun.Status.SUCCEEDED).exclude(
            artifacts__kind=ARTIFACT_KIND, artifacts__path__in=labels)
        report.removed = gone.count()
        gone.delete()
    return report
