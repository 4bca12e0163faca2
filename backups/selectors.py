"""Reads of the catalog, shared by the commands, the admin (pages, progress endpoints, overview) and the API."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import connections
from django.db.models import Q
from django.template.defaultfilters import filesizeformat
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

from backups import manifest
from backups.models import BackupArtifact, BackupRun, RestoreRun
from backups.services.progress import Figures, progress_figures
from backups.sources import RestoreRefused, RestoreTarget, database_kinds, parse_selector, registry, selected
from backups.storage import backup_storage
from opsportal.lib.humanize import human_duration

ACTIVE = (BackupRun.Status.QUEUED, BackupRun.Status.RUNNING)


# What a listing shows of a run; its log and verification detail (long texts) are read only on its own page.
LISTED_FIELDS = (
    "id", "uuid", "status", "kind", "trigger", "triggered_by_name", "created_at", "started_at", "finished_at",
    "total_bytes", "bytes_done", "estimated_bytes", "error", "verification", "drill_rto_seconds", "storage_prefix",
)  # fmt: skip


@dataclass
class RunsPage:
    runs: list[BackupRun]
    more: bool  # older runs exist beyond this page


def backup_runs_page(*, limit: int | None, before: int | None = None, with_artifacts: bool = False) -> RunsPage:
    """Runs newest first, `limit` of them (None: all), older than run #`before` if given (LookupError if absent).

    Keyset paging on (created_at, id), the listing's order, so a page costs the same on page 1 and page 2,000;
    one query for the runs, and one for their artifacts when asked for.
    """
    runs = BackupRun.objects.only(*LISTED_FIELDS).order_by("-created_at", "-id")
    if before is not None:
        anchor = BackupRun.objects.filter(pk=before).values_list("created_at", flat=True).first()
        if anchor is None:
            raise LookupError(before)
        # (created_at, id) < (anchor, before); the redundant bound lets PostgreSQL walk the created_at index from it.
        runs = runs.filter(Q(created_at__lt=anchor) | Q(created_at=anchor, pk__lt=before), created_at__lte=anchor)
    if with_artifacts:
        runs = runs.prefetch_related("artifacts")
    if limit is None:
        return RunsPage(runs=list(runs), more=False)
    found = list(runs[: limit + 1])
    return RunsPage(runs=found[:limit], more=len(found) > limit)


def backup_run_latest_succeeded() -> BackupRun | None:
    return BackupRun.objects.filter(status=BackupRun.Status.SUCCEEDED).order_by("-created_at", "-id").first()


def backup_run_latest_verified() -> BackupRun | None:
    """The run whose verification or restore drill (verifybackup [--drill]) is the latest, whatever its outcome."""
    return BackupRun.objects.filter(verified_at__isnull=False).order_by("-verified_at").first()


def backup_run_latest_complete(*, look_back: int = 50) -> BackupRun | None:
    """The newest succeeded backup holding every source configured now, manual or scheduled; what the RPO means.

    A safety backup (taken by a restore) or a partial run (`only=`) holds some sources only and never counts, nor
    does a backup from before a source was added. Only the newest `look_back` candidates are read.
    """
    wanted = {repr(source) for source in selected(None)}
    candidates = (
        BackupRun.objects.filter(status=BackupRun.Status.SUCCEEDED, finished_at__isnull=False, only=[])
        .exclude(trigger=BackupRun.Trigger.SAFETY)
        .prefetch_related("artifacts")
        .order_by("-finished_at", "-id")[:look_back]
    )
    for run in candidates:
        if wanted <= {f"{artifact.kind}:{artifact.name}" for artifact in run.artifacts.all()}:
            return run
    return None


def backup_freshness(*, look_back: int = 50) -> tuple[BackupRun | FreshRun, dict | None] | None:
    """For the backups health check, in one query: the run backup_run_latest_complete() returns (only the columns
    the check reads) and the latest verification or drill (run, at, outcome, rto_seconds), or None when there is no
    complete backup. The same rules as backup_run_latest_complete: the newest `look_back` candidates only, and a
    run counts when it holds an artifact for every source configured now."""
    found = backup_freshness_sql(look_back=look_back)
    if found is not None:
        with connections[BackupRun.objects.db].cursor() as cursor:
            cursor.execute(f"SELECT {found[0]}", found[1])  # noqa: S608 - from backup_freshness_sql
            return backup_freshness_from(cursor.fetchone()[0])
    wanted = [(source.kind, source.name) for source in selected(None)]
    from django.db.models import Exists, OuterRef, Subquery
    from django.db.models.functions import JSONObject

    candidates = (
        BackupRun.objects.filter(status=BackupRun.Status.SUCCEEDED, finished_at__isnull=False, only=[])
        .exclude(trigger=BackupRun.Trigger.SAFETY)
        .order_by("-finished_at", "-id")
        .values("pk")[:look_back]
    )
    runs = BackupRun.objects.filter(pk__in=Subquery(candidates))
    for kind, name in wanted:
        runs = runs.filter(Exists(BackupArtifact.objects.filter(run=OuterRef("pk"), kind=kind, name=name)))
    drill = (BackupRun.objects.filter(verified_at__isnull=False).order_by("-verified_at")
             .values(drill=JSONObject(id="id", at="verified_at", outcome="verification",
                                      rto_seconds="drill_rto_seconds"))[:1])
    run = (runs.annotate(last_drill=Subquery(drill))
           .only("pk", "finished_at", "total_bytes")
           .order_by("-finished_at", "-id").first())
    if run is None:
        return None
    return run, _drill(run.last_drill)


def _drill(row: dict | None) -> dict | None:
    if row is None:
        return None
    from django.utils.dateparse import parse_datetime

    at = parse_datetime(row["at"])
    if timezone.is_naive(at):  # SQLite's JSON holds the stored UTC text without its offset
        at = at.replace(tzinfo=UTC)
    return {"run": str(row["id"]), "at": at.isoformat(), "outcome": row["outcome"],
            "rto_seconds": row["rto_seconds"]}


def backup_freshness_sql(*, look_back: int = 50) -> tuple[str, list] | None:
    """backup_freshness() on PostgreSQL as one SQL expression and its parameters (None on another database), so
    the backups health check can share a statement with the other checks' reads (monitoring/sqlread.py): a JSON
    array [id, finished_at, total_bytes, drill] or NULL; backup_freshness_from() turns it into the answer.

    Hand-written: building the ORM's version cost 2-3 ms of CPU per health report, several times the query."""
    if connections[BackupRun.objects.db].vendor != "postgresql":
        return None
    wanted = [(source.kind, source.name) for source in selected(None)]
    runs, artifacts = BackupRun._meta.db_table, BackupArtifact._meta.db_table
    # The newest `look_back` candidates, the newest of them with an artifact of every wanted source. Written as
    # one scan of the candidates rather than a join of the runs with them: planning the join cost the server
    # twice as much (it is planned on every health report).
    sql = f"""(
        SELECT json_build_array(c.id, c.finished_at, c.total_bytes,
               (SELECT json_build_object('id', d.id, 'at', d.verified_at, 'outcome', d.verification,
                                         'rto_seconds', d.drill_rto_seconds)
                  FROM {runs} d WHERE d.verified_at IS NOT NULL ORDER BY d.verified_at DESC LIMIT 1))
          FROM (SELECT k.id, k.finished_at, k.total_bytes FROM {runs} k
                 WHERE k.status = %s AND k.finished_at IS NOT NULL AND k.only = '[]'::jsonb AND NOT (k.trigger = %s)
                 ORDER BY k.finished_at DESC, k.id DESC LIMIT %s) c
         WHERE NOT EXISTS (SELECT 1 FROM unnest(%s::text[], %s::text[]) AS w(kind, name)
                            WHERE NOT EXISTS (SELECT 1 FROM {artifacts} a
                                               WHERE a.run_id = c.id AND a.kind = w.kind AND a.name = w.name))
         ORDER BY c.finished_at DESC, c.id DESC LIMIT 1)"""  # noqa: S608 - table names from the models
    return sql, [BackupRun.Status.SUCCEEDED, BackupRun.Trigger.SAFETY, look_back,
                 [kind for kind, _name in wanted], [name for _kind, name in wanted]]


@dataclass(frozen=True)
class FreshRun:
    """The columns of a BackupRun the backups check reads (building a model instance per report cost more)."""

    pk: int
    finished_at: datetime
    total_bytes: int


def backup_freshness_from(value: list | str | None) -> tuple[FreshRun, dict | None] | None:
    """The value of backup_freshness_sql() as backup_freshness() answers."""
    if value is None:
        return None
    if isinstance(value, str):
        value = json.loads(value)
    run_id, finished_at, total_bytes, drill = value
    return FreshRun(pk=run_id, finished_at=parse_datetime(finished_at), total_bytes=total_bytes), _drill(drill)


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
        "estimated_bytes": run.estimated_bytes,
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
        "bytes_done": restore.bytes_done,
        "bytes_total": restore.bytes_total,
        "error": restore.error,
    }


def backup_run_active() -> BackupRun | None:
    """The queued or running backup, if any (there is at most one)."""
    return BackupRun.objects.filter(status__in=ACTIVE).order_by("created_at").first()


def backup_run_duration(run: BackupRun) -> timedelta | None:
    if run.started_at is None:
        return None
    return (run.finished_at or timezone.now()) - run.started_at


def _elapsed(started_at, finished_at) -> float | None:
    if started_at is None:
        return None
    return ((finished_at or timezone.now()) - started_at).total_seconds()


def backup_run_figures(run: BackupRun) -> Figures:
    """Raw bytes read so far against the estimate taken when the run started: percent and ETA (see progress.py)."""
    return progress_figures(done=run.bytes_done, total=run.estimated_bytes,
                            elapsed=_elapsed(run.started_at, run.finished_at),
                            finished=run.status == BackupRun.Status.SUCCEEDED)


def restore_run_figures(restore: RestoreRun) -> Figures:
    return progress_figures(done=restore.bytes_done, total=restore.bytes_total,
                            elapsed=_elapsed(restore.started_at, restore.finished_at),
                            finished=restore.status == RestoreRun.Status.SUCCEEDED)


def progress_fields(figures: Figures) -> dict:
    """The figures as the pages show them: bytes ("12.0 MB of about 60.0 MB"), percent ("20 %"), ETA; "" = hide."""
    done = filesizeformat(figures.done)
    return {
        "bytes_done": (
            _("%(done)s of about %(total)s") % {"done": done, "total": filesizeformat(figures.total)}
            if figures.total else done
        ),
        "percent": _("%(percent)s %%") % {"percent": figures.percent} if figures.percent is not None else "",
        "eta": (
            _("about %(time)s left") % {"time": human_duration(timedelta(seconds=round(figures.eta_seconds)))}
            if figures.eta_seconds is not None else ""
        ),
    }


def _figures_json(figures: Figures) -> dict:
    return {"bytes_done": figures.done, "bytes_total": figures.total, "percent": figures.percent,
            "eta_seconds": round(figures.eta_seconds, 1) if figures.eta_seconds is not None else None}


def backup_run_progress(run: BackupRun) -> dict:
    """What the run's page polls while it is queued or running."""
    duration = backup_run_duration(run)
    figures = backup_run_figures(run)
    return {
        "id": run.pk,
        "status": run.status,
        "finished": run.status not in ACTIVE,
        **_figures_json(figures),
        "fields": {
            "status": run.get_status_display(),
            **progress_fields(figures),
            "current_artifact": run.current_artifact or "—",
            "duration": human_duration(duration),
        },
    }


def restore_run_progress(restore: RestoreRun) -> dict:
    safety = restore.safety_run
    figures = restore_run_figures(restore)
    return {
        "id": restore.pk,
        "status": restore.status,
        "finished": restore.status not in (RestoreRun.Status.QUEUED, RestoreRun.Status.RUNNING),
        **_figures_json(figures),
        "fields": {
            "status": restore.get_status_display(),
            # nothing counted and nothing expected (a physical restore, or before the first bytes): no byte rows
            **(progress_fields(figures) if restore.bytes_done or restore.bytes_total else
               {"bytes_done": "", "percent": "", "eta": ""}),
            "safety": (
                f"#{safety.pk} {safety.get_status_display()} {filesizeformat(safety.bytes_done)}" if safety else "—"
            ),
        },
    }


def backup_run_drill_running(run: BackupRun) -> bool:
    """A restore drill of this backup beats now (a heartbeat older than BACKUP_STALE_AFTER: its worker is gone)."""
    beat = run.drill_heartbeat_at
    return beat is not None and beat > timezone.now() - settings.BACKUP_STALE_AFTER


def backup_run_drill_figures(run: BackupRun) -> Figures:
    """Raw bytes the drill decoded against the drilled artifacts' recorded raw size: percent and ETA."""
    running = backup_run_drill_running(run)
    return progress_figures(done=run.drill_bytes_done, total=run.drill_bytes_total,
                            elapsed=_elapsed(run.drill_started_at, None if running else run.drill_heartbeat_at),
                            finished=not running)


def backup_run_drill_progress(run: BackupRun) -> dict:
    """What the run's page polls while a restore drill of it runs."""
    running = backup_run_drill_running(run)
    figures = backup_run_drill_figures(run)
    duration = timezone.now() - run.drill_started_at if running and run.drill_started_at else None
    return {
        "id": run.pk,
        "finished": not running,
        **_figures_json(figures),
        "fields": {**progress_fields(figures), "duration": human_duration(duration)},
    }


def backup_run_manifest(run: BackupRun) -> dict | None:
    """The run's manifest.json as stored beside its files (None if absent or unreadable)."""
    if not run.storage_prefix or run.status != BackupRun.Status.SUCCEEDED:
        return None
    try:
        return manifest.read(backup_storage(), run.storage_prefix)
    except Exception:  # a damaged manifest must not break the page that helps investigate it
        return None


def restore_overwrites(run: BackupRun, *, only: str | None = None) -> list[dict]:
    """What restoring the run in place overwrites: one entry per artifact, with its target and safety handling."""
    kinds = registry()
    target = RestoreTarget()
    kind_filter, name_filter = parse_selector(only) if only else (None, None)
    items = []
    for artifact in run.artifacts.all():
        if kind_filter and (artifact.kind != kind_filter or (name_filter and artifact.name != name_filter)):
            continue
        source = kinds.get(artifact.kind)
        try:
            label = source.restore_target_label(artifact, target) if source else artifact.name
        except RestoreRefused as exc:  # e.g. a postgres:NAME that BACKUP_DATABASE_URLS no longer names
            label = f"{artifact.name}: {exc}"
        items.append(
            {
                "artifact": artifact,
                "target": label,
                "safety_backup": bool(source and source.has_something_to_protect(artifact, target)),
            }
        )
    return items


def restore_confirmation_word(run: BackupRun | None, *, only: str | None = None) -> str:
    """The database name to type when a database is overwritten in place; otherwise the word 'restore'."""
    kind, name = parse_selector(only) if only else (None, None)
    kinds = registry()
    databases = database_kinds()
    artifacts: list[BackupArtifact] = list(run.artifacts.filter(kind__in=databases)) if run else []
    for artifact in artifacts:
        if kind in (None, artifact.kind) and name in (None, artifact.name):
            try:
                return str(kinds[artifact.kind].target_db(artifact, RestoreTarget())["NAME"])
            except RestoreRefused:  # not configured here: the restore refuses it anyway
                continue
    return "restore"


@dataclass
class ListedSource:
    selector: str  # KIND:NAME, what `backup --only` and the admin's "Run backup now" pick
    target: str  # what it backs up, without secrets (a database's postgres://host:port/name)
    problem: str  # why its backup fails now (a bad BACKUP_DATABASE_URLS entry), "" when none is known


def backup_sources_listed() -> list[ListedSource]:
    """The configured sources, in backup order, as the admin lists them; no password ever (scrubbed)."""
    from backups.services.backup import scrub_secrets
    from backups.sources.database import DatabaseSource

    listed = []
    for source in selected(None):
        problem = getattr(source, "problem", "")
        target = ""
        if isinstance(source, DatabaseSource) and not problem:
            db = source.db
            target = (f"postgres://{db.get('HOST') or 'localhost'}:{db.get('PORT') or 5432}/{db['NAME']}"
                      if db["ENGINE"] == "django.db.backends.postgresql" else f"sqlite:///{db['NAME']}")
        listed.append(ListedSource(selector=repr(source), target=scrub_secrets(target), problem=problem))
    return listed


def backup_overview() -> dict:
    """For the admin index (the dashboards app's admin/overview/_backups.html): last backup, verification, drill,
    active run."""
    succeeded = BackupRun.objects.filter(status=BackupRun.Status.SUCCEEDED).exclude(trigger=BackupRun.Trigger.SAFETY)
    last = succeeded.order_by("-created_at", "-id").first()
    last_verified = (
        succeeded.filter(verification__in=[BackupRun.Verification.VERIFIED, BackupRun.Verification.DRILL_PASSED])
        .order_by("-created_at", "-id")
        .first()
    )
    last_drill = BackupRun.objects.exclude(drill_rto_seconds=None).order_by("-verified_at", "-id").first()
    active = backup_run_active()
    drilling = (
        BackupRun.objects.filter(drill_heartbeat_at__gt=timezone.now() - settings.BACKUP_STALE_AFTER)
        .order_by("-drill_started_at", "-id").first()
    )
    return {
        # a restore drill running now, and its figures formatted like the backup's
        "drilling": drilling,
        "drill_progress": progress_fields(backup_run_drill_figures(drilling)) if drilling else None,
        # the running backup's percent and ETA, formatted ("" when unknown): progress_fields()
        "active_progress": progress_fields(backup_run_figures(active)) if active else None,
        "last": last,
        "last_age": timezone.now() - (last.finished_at or last.created_at) if last else None,
        "last_verified": last_verified,
        "last_drill": last_drill,
        "active": active,
        "last_failed": BackupRun.objects.filter(status=BackupRun.Status.FAILED)
        .exclude(trigger=BackupRun.Trigger.SAFETY)
        .order_by("-created_at", "-id")
        .first(),
    }


@dataclass(frozen=True)
class BackupRunMark:
    """A backup run as the history charts place it: when it started, how it ended, how long and how big."""

    id: int
    status: str
    status_label: object  # the status' own (translatable) name
    at: datetime  # started, or created when it never started
    finished: bool  # succeeded or failed
    failed: bool
    seconds: float | None
    total_bytes: int | None


def backup_runs_in(*, start: datetime, end: datetime, limit: int) -> list[BackupRunMark]:
    """Runs created in [start, end], oldest first, at most `limit`."""
    labels = dict(BackupRun.Status.choices)
    runs = (BackupRun.objects.filter(created_at__gte=start, created_at__lte=end)
            .only("pk", "status", "trigger", "created_at", "started_at", "finished_at", "total_bytes")
            .order_by("created_at")[:limit])
    ended = (BackupRun.Status.SUCCEEDED, BackupRun.Status.FAILED)
    return [BackupRunMark(id=run.pk, status=run.status, status_label=labels.get(run.status, run.status),
                          at=run.started_at or run.created_at, finished=run.status in ended,
                          failed=run.status == BackupRun.Status.FAILED, total_bytes=run.total_bytes,
                          seconds=(run.finished_at - run.started_at).total_seconds()
                          if run.started_at and run.finished_at else None)
            for run in runs]
