"""Point-in-time restore through `pgbackrest restore`: into a new data directory and port, or over the cluster.

Order: every refusal first (nothing touched), then the safety step (a restore point on the running cluster, named
after this restore, and for a restore over the cluster an incremental safety backup), then pgBackRest, then the
restored cluster is started and waited for until it is promoted. A restore into a new directory leaves the running
cluster untouched; a restore over it needs the typed confirmation (the stanza name), checked by the caller.
"""

from __future__ import annotations

import contextlib
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.utils import timezone
from django.utils.translation import gettext as _

from backups.models import BackupRun, RestoreRun
from backups.physical import KIND
from backups.physical.cluster import ClusterError, RestoredCluster, free_port, port_is_free, prepare_data_dir
from backups.physical.command import PgBackRestError, pgbackrest_run, scrub
from backups.physical.config import PhysicalNotConfigured, stanza
from backups.physical.container import (
    ContainerRestoreError,
    ContainerRestoreRefused,
    RestoredContainer,
    check_free,
    derived_name,
    docker_client,
    restore_into_container,
    source_plan,
    volume_name,
)
from backups.physical.container import data_dir as container_data_dir
from backups.physical.info import BackupSet, StanzaInfo, stanza_info
from backups.physical.sql import restore_point_create, valid_restore_point_name
from backups.services.progress import RestoreHeartbeat
from backups.signals import restore_finished

TARGET_TIME, TARGET_LATEST, TARGET_NAME = "time", "latest", "name"
TARGET_TYPES = (TARGET_TIME, TARGET_LATEST, TARGET_NAME)


class PhysicalRestoreRefused(Exception):
    """The restore will not start; nothing was touched."""


@dataclass(frozen=True)
class RecoveryWindow:
    earliest: datetime | None
    latest: datetime | None
    backups: int


def recovery_window(info: StanzaInfo | None = None) -> RecoveryWindow:
    """The earliest (end of the oldest backup) and latest (last archived WAL, else newest backup) recoverable times."""
    from backups.physical.sql import archiver_state

    info = info or stanza_info()
    latest = max((b.stopped_at for b in info.backups), default=None)
    with contextlib.suppress(Exception):
        state = archiver_state()
        if state.last_archived_time and (latest is None or state.last_archived_time > latest):
            latest = state.last_archived_time
    return RecoveryWindow(earliest=info.earliest_recoverable, latest=latest if info.backups else None,
                          backups=len(info.backups))


def confirmation_word() -> str:
    """What must be typed to restore over the running cluster: the stanza's name."""
    return stanza()


def physical_restore_create(
    *,
    target_type: str,
    target: str = "",
    pg_path: str = "",
    port: int | None = None,
    in_place: bool = False,
    user: AbstractBaseUser | None = None,
    actor: str = "",
) -> RestoreRun:
    from backups.services.restore import restore_run_create_exclusive

    restore = restore_run_create_exclusive(
        kind=KIND, recovery_target_type=target_type, recovery_target=target, pg_path=pg_path, port=port,
        in_place=in_place, target=_("cluster of stanza %(stanza)s") % {"stanza": settings.BACKUP_PGBACKREST_STANZA},
        triggered_by=user if user is not None and user.pk else None,
        triggered_by_name=user.get_username() if user is not None else actor,
    )
    if settings.BACKUP_PGBACKREST_CONTAINER and not in_place and not (pg_path and port):
        # PostgreSQL in a container: the new container's name and port, derived now so they show from the start
        restore.pg_path, restore.port = pg_path or derived_name(restore.pk), port or free_port()
        RestoreRun.objects.filter(pk=restore.pk).update(pg_path=restore.pg_path, port=restore.port)
    return restore


def physical_restore_enqueue(**kwargs) -> RestoreRun:
    from django.db import transaction

    from backups.tasks import run_restore

    restore = physical_restore_create(**kwargs)
    transaction.on_commit(lambda: run_restore.delay(restore.pk))
    return restore


def _parse_time(text: str) -> datetime:
    from django.utils.dateparse import parse_datetime

    value = parse_datetime(text.strip().replace(" ", "T", 1)) if text else None
    if value is None:
        raise PhysicalRestoreRefused(
            _("%(text)s is not a time; give one such as 2026-12-01T21:45:00+00:00.") % {"text": text})
    if timezone.is_naive(value):
        value = timezone.make_aware(value)
    return value


def _set_for_time(info: StanzaInfo, when: datetime) -> BackupSet:
    """The backup set to recover to `when` from, chosen here rather than by pgBackRest.

    pgBackRest records a set's stop time in whole seconds and picks only a set that stopped in a second *before*
    the target's, so a time in the same second as a backup's end fails there with "unable to find backup set".
    The newest set that ended a whole second before is certainly consistent by then; failing that, one that ended
    in the same second (PostgreSQL itself refuses if its consistent point is after the target).
    """
    usable = [b for b in info.backups if not b.error and b.stopped_at <= when]
    if not usable:
        raise PhysicalRestoreRefused(
            _("No backup set ended before %(when)s.") % {"when": when.isoformat()})
    certain = [b for b in usable if b.stopped_at + timedelta(seconds=1) <= when]
    return max(certain or usable, key=lambda b: b.stopped_at)


def _refusals(restore: RestoreRun, info: StanzaInfo) -> list[str]:
    """The pgbackrest restore options; PhysicalRestoreRefused for anything that cannot work."""
    if settings.BACKUP_PGBACKREST_CONTAINER and restore.in_place:
        raise PhysicalRestoreRefused(_(
            "PostgreSQL runs in the container %(container)s: the portal does not restore over the running container. "
            "Restore into a new container on a new volume (give its name and port, or leave them empty), check it, "
            "then switch your clients over to it.") % {"container": settings.BACKUP_PGBACKREST_CONTAINER})
    if not info.backups:
        raise PhysicalRestoreRefused(_("The repository of stanza %(stanza)s holds no backup yet; take a physical "
                                       "backup first.") % {"stanza": info.name})
    options: list[str] = []
    kind = restore.recovery_target_type
    if kind == TARGET_TIME:
        when = _parse_time(restore.recovery_target)
        window = recovery_window(info)
        if window.earliest and when < window.earliest:
            raise PhysicalRestoreRefused(
                _("%(when)s is before the earliest recoverable time %(earliest)s (the end of the oldest backup).")
                % {"when": when.isoformat(), "earliest": window.earliest.isoformat()})
        if when > timezone.now():
            raise PhysicalRestoreRefused(_("%(when)s is in the future.") % {"when": when.isoformat()})
        options += ["--type=time", f"--target={when.isoformat(sep=' ')}", "--target-action=promote",
                    f"--set={_set_for_time(info, when).label}"]
    elif kind == TARGET_NAME:
        if not valid_restore_point_name(restore.recovery_target):
            raise PhysicalRestoreRefused(_("%(name)s is not a restore point name.") % {"name": restore.recovery_target})
        options += ["--type=name", f"--target={restore.recovery_target}", "--target-action=promote"]
    elif kind != TARGET_LATEST:
        raise PhysicalRestoreRefused(_("Unknown recovery target %(kind)s: use time, latest or name.") % {"kind": kind})
    if restore.in_place:
        if not settings.BACKUP_PGBACKREST_PG_PATH:
            raise PhysicalRestoreRefused(_("A restore over the running cluster needs BACKUP_PGBACKREST_PG_PATH."))
        options += ["--delta", f"--pg1-path={settings.BACKUP_PGBACKREST_PG_PATH}"]
    elif settings.BACKUP_PGBACKREST_CONTAINER:
        options += [f"--pg1-path={container_data_dir()}", "--archive-mode=off"]
    else:
        if not restore.pg_path or not Path(restore.pg_path).is_absolute():
            raise PhysicalRestoreRefused(_("Give the new data directory as an absolute path."))
        if settings.BACKUP_PGBACKREST_PG_PATH and Path(restore.pg_path).resolve() == Path(
                settings.BACKUP_PGBACKREST_PG_PATH).resolve():
            raise PhysicalRestoreRefused(_("%(path)s is the running cluster's data directory; a restore over it "
                                           "needs --in-place and the typed confirmation.") % {"path": restore.pg_path})
        path = Path(restore.pg_path)
        if path.exists() and (not path.is_dir() or any(path.iterdir())):
            raise PhysicalRestoreRefused(_("%(path)s exists and is not empty; restore into a new or empty directory.")
                                         % {"path": path})
        if not restore.port or not port_is_free(restore.port):
            raise PhysicalRestoreRefused(_("Port %(port)s is not free; give a spare port for the restored cluster.")
                                         % {"port": restore.port})
        options += [f"--pg1-path={restore.pg_path}", "--archive-mode=off"]
    return options


def _container_target(restore: RestoreRun) -> tuple[RestoredContainer, object]:
    """The new container's name and port (derived when not given, and recorded on the restore) and what it copies
    from the running container; ContainerRestoreRefused while nothing is created."""
    name = restore.pg_path or derived_name(restore.pk)
    port = int(restore.port) if restore.port else free_port()
    with docker_client() as client:
        plan = source_plan(client, stanza())
        check_free(client, name, port)
    RestoreRun.objects.filter(pk=restore.pk).update(pg_path=name, port=port)
    restore.pg_path, restore.port = name, port
    return RestoredContainer(name=name, volume=volume_name(name), port=port), plan


def _in_place_stop_start(action: str) -> None:
    """Stop or start the configured cluster for a restore over it (pg_ctl on BACKUP_PGBACKREST_PG_PATH)."""
    cluster = RestoredCluster(data=Path(settings.BACKUP_PGBACKREST_PG_PATH), port=0,
                              socket_dir=Path(settings.BACKUP_PGBACKREST_PG_PATH), created_data_dir=False)
    if action == "stop":
        cluster.stop(mode="fast")
    else:
        result = cluster._pg_ctl("-w", "-t", str(int(settings.BACKUP_PGBACKREST_RESTORE_TIMEOUT.total_seconds())),
                                 "-l", str(cluster.data / "opsportal-restore.log"), "start",
                                 timeout=settings.BACKUP_PGBACKREST_RESTORE_TIMEOUT.total_seconds())
        if result.returncode != 0:
            raise ClusterError(_("The cluster did not start after the restore: %(error)s")
                               % {"error": (result.stderr or result.stdout).strip()[-500:]})


def physical_restore_execute(
    *, restore_id: int, log: Callable[[str], None] | None = None, keep_running: bool = True,
    cluster_out: list | None = None,
) -> RestoreRun | None:
    """Carry out a queued physical RestoreRun; None if another delivery claimed it.

    keep_running=False (drills) leaves the started cluster registered for the caller to check and remove; it is
    appended to `cluster_out`.
    """
    lines: list[str] = []

    def step(text: str, *, current: bool = True) -> None:
        line = scrub(text)
        lines.append(f"{timezone.now():%Y-%m-%d %H:%M:%S} {line}")
        if log is not None:
            log(line)
        if current:
            RestoreRun.objects.filter(pk=restore_id).update(current_step=line[:255], log="\n".join(lines))

    now = timezone.now()
    if not RestoreRun.objects.filter(pk=restore_id, status=RestoreRun.Status.QUEUED, kind=KIND).update(
            status=RestoreRun.Status.RUNNING, started_at=now, heartbeat_at=now):
        return None
    heartbeat = RestoreHeartbeat(restore_id)
    heartbeat.start()
    restore = RestoreRun.objects.get(pk=restore_id)
    cluster: RestoredCluster | None = None
    restored: RestoredContainer | None = None
    in_container = bool(settings.BACKUP_PGBACKREST_CONTAINER) and not restore.in_place
    stopped_in_place = False
    try:
        info = stanza_info()
        options = _refusals(restore, info)
        if in_container:
            restored, plan = _container_target(restore)
        step(_("safety step: restore point opsportal-before-restore-%(id)s on the running cluster")
             % {"id": restore.pk})
        try:
            restore_point_create(f"opsportal-before-restore-{restore.pk}")
        except Exception as exc:
            if restore.in_place:
                raise PhysicalRestoreRefused(
                    _("The running cluster could not mark the present (restore point): %(error)s; nothing was "
                      "restored over it.") % {"error": exc}) from None
            step(_("the running cluster could not be marked (%(error)s); it is not touched by this restore")
                 % {"error": exc})
        if restore.in_place:
            from backups.physical.backup import physical_backup_create, physical_backup_execute

            step(_("safety step: incremental backup of the running cluster"))
            safety = physical_backup_create(backup_type="incr", trigger=BackupRun.Trigger.SAFETY,
                                            user=restore.triggered_by, actor=restore.triggered_by_name)
            RestoreRun.objects.filter(pk=restore.pk).update(safety_run=safety)
            safety = physical_backup_execute(run_id=safety.pk)
            if safety is None or safety.status != BackupRun.Status.SUCCEEDED:
                raise RuntimeError(_("The safety backup failed, so nothing was restored: %(error)s")
                                   % {"error": safety.error if safety else "not started"})
            restore.safety_run = safety
            step(_("stopping the running cluster"))
            _in_place_stop_start("stop")
            stopped_in_place = True
        elif in_container:
            restore_into_container(
                restored=restored, plan=plan, options=options, purpose="restore" if keep_running else "drill",
                restore_id=restore.pk, timeout=settings.BACKUP_PGBACKREST_RESTORE_TIMEOUT.total_seconds(), step=step)
            restore.target = _("container %(name)s (%(id)s) on volume %(volume)s, port %(port)s") % {
                "name": restored.name, "id": restored.container_id[:12], "volume": restored.volume,
                "port": restored.port}
        else:
            path = Path(restore.pg_path)
            cluster = RestoredCluster(data=path, port=int(restore.port), socket_dir=path.parent,
                                      created_data_dir=not path.exists())
            cluster.register(purpose="restore", restore_id=restore.pk)
            prepare_data_dir(path)
        if not in_container:
            step(f"pgbackrest restore {' '.join(options)}")
            pgbackrest_run(["restore", *options],
                           timeout=settings.BACKUP_PGBACKREST_RESTORE_TIMEOUT.total_seconds(), poll=lambda: None)
        timeout = settings.BACKUP_PGBACKREST_RESTORE_TIMEOUT.total_seconds()
        if in_container:
            pass
        elif restore.in_place:
            step(_("starting the cluster: replaying WAL to the target"))
            _in_place_stop_start("start")
            stopped_in_place = False
        else:
            cluster.write_settings()
            step(_("starting the restored cluster on port %(port)s: replaying WAL to the target")
                 % {"port": cluster.port})
            cluster.start(timeout=timeout)
        restore.status = RestoreRun.Status.SUCCEEDED
        if restore.recovery_target_type == TARGET_TIME:
            restore.recovered_at = _parse_time(restore.recovery_target)
        step(_("succeeded: the cluster is promoted and accepts connections"), current=False)
        if cluster is not None:
            if keep_running:
                cluster.release()  # the operator's now
            elif cluster_out is not None:
                cluster_out.append(cluster)
            cluster = None
        if restored is not None:
            if not keep_running and cluster_out is not None:
                cluster_out.append(restored)
            restored = None  # a succeeded restore's container is the operator's now: the reaper leaves it
    except (PhysicalRestoreRefused, PhysicalNotConfigured, ContainerRestoreRefused) as exc:
        restore.status = RestoreRun.Status.REFUSED
        restore.error = scrub(str(exc))
        step(f"refused: {restore.error}", current=False)
    except Exception as exc:
        restore.status = RestoreRun.Status.FAILED
        restore.error = scrub(str(exc)) if isinstance(
            exc, PgBackRestError | ClusterError | ContainerRestoreError) else scrub(
            f"{type(exc).__name__}: {exc}")
        step(f"failed: {restore.error}", current=False)
        lines.append(scrub(traceback.format_exc()))
        if stopped_in_place:
            restore.error += " " + _("The cluster is stopped; its data directory may be partly restored: run the "
                                     "restore again, or restore the safety backup.")
    finally:
        heartbeat.stop()
        if cluster is not None:  # failed or refused: remove what this restore created
            cluster.remove()
        if restored is not None:
            restored.remove()
    restore.finished_at = timezone.now()
    restore.current_step = ""
    restore.log = "\n".join(lines)
    restore.save()
    restore_finished.send(sender=RestoreRun, restore=restore)
    return restore
