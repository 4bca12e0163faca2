"""PITR drills: mark a moment in the live cluster, restore to it in a scratch cluster, prove it, record the RTO.

The drill writes a marker row ("before"), notes the time T just after its commit and creates a restore point,
writes a second marker row ("after"), and waits until the WAL holding both is archived. It then restores the latest
backup plus the archive to T into a scratch cluster on a spare port, and checks that the "before" row is there and
the "after" row is not. The RTO is the time from the start of the restore to a promoted, queryable cluster. The
outcome is written on the backup run and, as an annotation, on the pgBackRest set (so it survives a re-index).
The scratch cluster is always removed; if the worker is killed, the reaper removes it (cluster.py).
When PostgreSQL runs in a container (BACKUP_PGBACKREST_CONTAINER), the scratch cluster is a scratch container on a
scratch volume, labelled as a drill's, so the reaper removes it too (container.py).
"""

from __future__ import annotations

import contextlib
import json
import logging
import shutil
import time
import uuid
from dataclasses import dataclass

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _

from backups.models import BackupRun, RestoreRun
from backups.physical import KIND
from backups.physical.cluster import RestoredCluster, _chown_to_run_as, free_port
from backups.physical.command import pgbackrest_run, scrub
from backups.physical.container import RestoredContainer
from backups.physical.info import DRILL_ANNOTATION
from backups.physical.restore import TARGET_TIME, physical_restore_create, physical_restore_execute
from backups.physical.sql import connect, marker_cleanup, marker_phases, marker_write, switch_wal_and_wait

logger = logging.getLogger("backups")


@dataclass
class DrillResult:
    ok: bool
    run: BackupRun | None
    restore: RestoreRun | None
    target: str
    rto_seconds: float | None
    detail: str


def _latest_physical() -> BackupRun | None:
    return BackupRun.objects.filter(kind=KIND, status=BackupRun.Status.SUCCEEDED).order_by("-finished_at").first()


def physical_drill(*, actor: str = "drill") -> DrillResult:
    run = _latest_physical()
    if run is None:
        return DrillResult(False, None, None, "", None, _("No physical backup to drill yet."))
    token = uuid.uuid4().hex
    with connect() as conn:
        marker_write(conn, token, "before")
        target = conn.execute("SELECT clock_timestamp()").fetchone()[0]
        time.sleep(0.05)
        conn.execute("SELECT pg_create_restore_point(%s)", [f"opsportal-drill-{token[:12]}"])
        marker_write(conn, token, "after")
        switch_wal_and_wait(conn)
    folder = settings.BACKUP_PGBACKREST_SCRATCH_DIR / f"drill-{token[:12]}"
    if settings.BACKUP_PGBACKREST_CONTAINER:  # a scratch container on a scratch volume (container.py), no folder
        pg_path = f"{settings.BACKUP_PGBACKREST_CONTAINER}-drill-{token[:12]}"
    else:
        folder.mkdir(parents=True)
        _chown_to_run_as(folder)
        pg_path = str(folder / "data")
    restore = physical_restore_create(target_type=TARGET_TIME, target=target.isoformat(),
                                      pg_path=pg_path, port=free_port(), actor=actor)
    clusters: list[RestoredCluster | RestoredContainer] = []
    ok, detail, rto = False, "", None
    try:
        done = physical_restore_execute(restore_id=restore.pk, keep_running=False, cluster_out=clusters)
        restore = done or restore
        if restore.status != RestoreRun.Status.SUCCEEDED:
            detail = _("the restore did not succeed: %(error)s") % {"error": restore.error}
        else:
            rto = (restore.finished_at - restore.started_at).total_seconds()
            with clusters[0].connect() as scratch:
                phases = marker_phases(scratch, token)
            ok = phases == ["before"]
            detail = (_("recovered to %(target)s: the row written before it is there, the one after it is not")
                      if ok else _("recovered to %(target)s, but the marker rows found were %(phases)s, expected "
                                   "only the one written before it")) % {"target": target.isoformat(),
                                                                         "phases": phases}
    except Exception as exc:
        detail = scrub(f"{type(exc).__name__}: {exc}")
    finally:
        for cluster in clusters:
            cluster.remove()
        shutil.rmtree(folder, ignore_errors=True)
        with contextlib.suppress(Exception), connect() as conn:
            marker_cleanup(conn, token)
    _record(run, ok=ok, rto=rto, detail=detail)
    run.refresh_from_db()
    return DrillResult(ok, run, restore, target.isoformat(), rto, detail)


def _record(run: BackupRun, *, ok: bool, rto: float | None, detail: str) -> None:
    now = timezone.now()
    outcome = BackupRun.Verification.DRILL_PASSED if ok else BackupRun.Verification.FAILED
    BackupRun.objects.filter(pk=run.pk).update(verification=outcome, verified_at=now, drill_rto_seconds=rto,
                                               verification_detail=detail)
    artifact = run.artifacts.first()
    if artifact is None:
        return
    value = json.dumps({"outcome": outcome, "at": now.isoformat(), "rto": rto, "detail": detail[:500]},
                       separators=(",", ":"))
    try:  # the drill's outcome lives beside the backup too, so a re-index brings it back
        pgbackrest_run(["annotate", f"--set={artifact.path}", f"--annotation={DRILL_ANNOTATION}={value}"],
                       timeout=120)
    except Exception as exc:
        logger.warning("drill of run %s: could not annotate the pgBackRest set: %s", run.pk, exc)
