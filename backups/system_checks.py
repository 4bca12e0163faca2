"""System checks for backup configuration problems Django can see at start-up.

Each is tagged "backups": the backup commands run only these before they start (`requires_system_checks =
["backups"]`), so a backup does not wait for the URLconf, admin and model checks that `manage.py check` and the
servers run."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.core.checks import Tags, Warning, register


@register(Tags.security, "backups")
def unencrypted_secrets(app_configs, **kwargs) -> list[Warning]:
    if settings.BACKUP_AGE_RECIPIENTS or not settings.BACKUP_FILES:
        return []
    return [
        Warning(
            "Backups include files holding secrets (BACKUP_FILES) but are not encrypted.",
            hint="Set BACKUP_AGE_RECIPIENTS to an age public key (age-keygen); until then these files are stored "
            "unencrypted, readable only by their owner (mode 0600).",
            id="backups.W001",
        )
    ]


@register("backups")
def identity_file(app_configs, **kwargs) -> list[Warning]:
    path = settings.BACKUP_AGE_IDENTITY_FILE
    if path and not Path(path).is_file():
        return [Warning(f"BACKUP_AGE_IDENTITY_FILE points to {path}, which is not a file.", id="backups.W002")]
    return []


@register("backups")
def physical_backups(app_configs, **kwargs) -> list:
    """pgBackRest configuration problems (backups.E101-E108, W107); nothing while BACKUP_PGBACKREST_STANZA is empty."""
    from django.core.checks import Error

    from backups.physical.config import configuration_problems

    found = []
    for check_id, message, hint in configuration_problems():
        kind = Warning if ".W" in check_id else Error
        found.append(kind(message, hint=hint, id=check_id))
    return found


@register("backups")
def restore_jobs(app_configs, **kwargs) -> list:
    """BACKUP_RESTORE_JOBS must be a whole number from 1 to 64 (pg_restore -j)."""
    from django.core.checks import Error

    from backups.services.swap import RESTORE_JOBS_MAX, restore_jobs_problem

    problem = restore_jobs_problem(settings.BACKUP_RESTORE_JOBS)
    if problem is None:
        return []
    return [Error(f"BACKUP_RESTORE_JOBS={settings.BACKUP_RESTORE_JOBS!r}: {problem}",
                  hint=f"Set it to the number of pg_restore jobs, 1 to {RESTORE_JOBS_MAX} (default 2); "
                  "until then 2 is used.", id="backups.E010")]


@register("backups")
def database_urls(app_configs, **kwargs) -> list:
    """BACKUP_DATABASE_URLS(_FILE): bad entries (E011), names given twice (E012), bad or non-PostgreSQL URLs (E013),
    an unreadable file (E014), the portal's own database (E015). The message never quotes an entry, which may hold
    a password."""
    from django.core.checks import Error

    return [
        Error(problem.render(), hint="Each entry is NAME=postgres://user:password@host:5432/dbname; see "
              "docs/guides/backup-and-restore.md. Until it is fixed, the backup of that entry fails.",
              id=problem.check_id)
        for problem in settings.BACKUP_DATABASE_URL_PROBLEMS
    ]
