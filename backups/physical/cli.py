"""`manage.py restore --to-time TIME|--latest|--to-name NAME --pg-data DIR --port PORT [--in-place]`.

When PostgreSQL runs in a container: `... [--container NAME] [--port PORT]` (a new container on a new volume)."""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from backups.management.commands._output import cli_actor
from backups.models import RestoreRun
from backups.physical.config import PhysicalNotConfigured
from backups.physical.container import volume_name
from backups.physical.restore import (
    TARGET_LATEST,
    TARGET_NAME,
    TARGET_TIME,
    confirmation_word,
    physical_restore_create,
    physical_restore_execute,
)


def add_physical_arguments(parser) -> None:
    group = parser.add_argument_group(_("point-in-time restore (pgBackRest)"))
    group.add_argument("--to-time", metavar="TIME",
                       help=_("Recover to this time (ISO 8601, e.g. 2026-12-01T21:45:00Z)."))
    group.add_argument("--latest", action="store_true", help=_("Recover to the end of the archived WAL."))
    group.add_argument("--to-name", metavar="NAME", help=_("Recover to this named restore point."))
    group.add_argument("--pg-data", metavar="DIR", help=_("The new data directory (absolute; new or empty)."))
    group.add_argument("--port", type=int, help=_("The port the restored cluster listens on (in a container: the "
                                                  "host port it publishes; a spare one if left out)."))
    group.add_argument("--container", metavar="NAME",
                       help=_("When PostgreSQL runs in a container (BACKUP_PGBACKREST_CONTAINER): the new container's "
                              "name; its volume is NAME-data. Default: the running container's name with "
                              "-pitr-<restore number>."))
    group.add_argument("--in-place", action="store_true",
                       help=_("Restore over the running cluster (stopped, restored with --delta, started); asks "
                              "you to type the stanza's name."))


def is_physical(options: dict) -> bool:
    return bool(options.get("to_time") or options.get("latest") or options.get("to_name"))


def physical_restore_command(command: BaseCommand, *, yes: bool, to_time: str | None, latest: bool,
                             to_name: str | None, pg_data: str | None, port: int | None, in_place: bool,
                             container: str | None = None, **_options: object) -> None:
    chosen = [kind for kind, given in ((TARGET_TIME, to_time), (TARGET_LATEST, latest), (TARGET_NAME, to_name))
              if given]
    if len(chosen) != 1:
        raise CommandError(_("Give exactly one of --to-time, --latest and --to-name."))
    target_type = chosen[0]
    target = to_time or to_name or ""
    try:
        word = confirmation_word()
    except PhysicalNotConfigured as exc:
        raise CommandError(str(exc)) from None
    in_container = bool(settings.BACKUP_PGBACKREST_CONTAINER)
    if in_container and in_place:
        raise CommandError(_("PostgreSQL runs in the container %(container)s: the portal does not restore over it. "
                             "Leave out --in-place: the restore starts a new container on a new volume.")
                           % {"container": settings.BACKUP_PGBACKREST_CONTAINER})
    if in_container and pg_data:
        raise CommandError(_("PostgreSQL runs in a container: give the new container's name with --container NAME "
                             "(or leave it out), not --pg-data."))
    if container and not in_container:
        raise CommandError(_("--container is for PostgreSQL in a container (BACKUP_PGBACKREST_CONTAINER is empty); "
                             "give --pg-data DIR --port PORT."))
    if in_container:
        pass
    elif in_place:
        if pg_data or port:
            raise CommandError(_("--in-place restores over the configured cluster; leave out --pg-data and --port."))
        if not yes:
            command.stdout.write(_("This stops the running cluster of stanza %(word)s and overwrites its data "
                                   "directory (an incremental safety backup is taken first). Type %(word)s to go on:")
                                 % {"word": word})
            try:
                answer = input().strip()
            except EOFError:
                answer = ""
            if answer != word:
                raise CommandError(_("Restore cancelled; nothing was touched."))
    elif not pg_data or not port:
        raise CommandError(_("Give the new data directory and port (--pg-data DIR --port PORT), or --in-place."))
    from backups.services.restore import RestoreBusy

    try:
        restore = physical_restore_create(target_type=target_type, target=target,
                                          pg_path=(container if in_container else pg_data) or "", port=port,
                                          in_place=in_place, actor=cli_actor())
    except RestoreBusy as exc:
        raise CommandError(str(exc)) from None
    done = physical_restore_execute(restore_id=restore.pk, log=command.stdout.write)
    assert done is not None  # just created here
    if done.status != RestoreRun.Status.SUCCEEDED:
        raise CommandError(_("Restore #%(id)s %(status)s: %(error)s")
                           % {"id": done.pk, "status": done.get_status_display(), "error": done.error})
    if in_container:
        where = _("in the new container %(name)s (volume %(volume)s) on port %(port)s") % {
            "name": done.pg_path, "volume": volume_name(done.pg_path), "port": done.port}
    else:
        where = _("over the cluster") if in_place else _("in %(dir)s on port %(port)s") % {"dir": done.pg_path,
                                                                                           "port": done.port}
    command.stdout.write(_("Restore #%(id)s succeeded: the cluster runs %(where)s.") % {"id": done.pk,
                                                                                         "where": where})


def physical_prune(command: BaseCommand, *, dry_run: bool) -> None:
    """The physical half of `prunebackups`: pgbackrest expire under the portal's pins (nothing when off)."""
    from backups.physical.config import enabled
    from backups.physical.retention import describe, physical_expire

    if not enabled():
        return
    command.stdout.write(_("Physical retention: keep %(rules)s.") % {"rules": "; ".join(describe())})
    try:
        plan = physical_expire(dry_run=dry_run)
    except Exception as exc:
        raise CommandError(_("Physical retention failed: %(error)s") % {"error": exc}) from None
    if plan.pinned:
        command.stdout.write(_("Pinned pgBackRest sets (kept): %(labels)s") % {"labels": ", ".join(plan.pinned)})
    if plan.refused:
        raise CommandError(plan.refused)
    if dry_run:
        command.stdout.write(_("pgbackrest expire would remove: %(labels)s")
                             % {"labels": ", ".join(plan.to_expire) or _("nothing")})
    else:
        command.stdout.write(_("pgbackrest expire removed: %(labels)s")
                             % {"labels": ", ".join(plan.expired) or _("nothing")})


def physical_reindex(command: BaseCommand) -> list:
    """The physical half of `backup --reindex`: rebuild physical runs from `pgbackrest info` (nothing when off)."""
    from backups.physical.catalog import physical_catalog_reindex
    from backups.physical.config import enabled

    if not enabled():
        return []
    try:
        report = physical_catalog_reindex()
    except Exception as exc:
        raise CommandError(_("The physical catalog could not be re-indexed from pgBackRest: %(error)s")
                           % {"error": exc}) from None
    command.stderr.write(_("Physical: %(count)s run(s) from pgBackRest, %(removed)s record(s) of expired sets removed.")
                         % {"count": len(report.runs), "removed": report.removed})
    return report.runs
