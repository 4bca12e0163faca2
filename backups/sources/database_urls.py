"""PostgreSQL databases named in BACKUP_DATABASE_URLS: each is the source `postgres:NAME`.

They are dumped, counted, restored and drilled exactly as the portal's own PostgreSQL database (DatabaseSource), but
they are not Django databases: no migration and no catalog repair ever runs in them, and an in-place restore swaps
in the restored copy on their own server (backups/services/swap.py) without `prepare`. Their connection settings come
from the parsed setting (opsportal/lib/database_urls.py); the password travels only in PGPASSWORD and psycopg's
arguments, and is scrubbed from every error (postgres.scrub, scrub_secrets).
"""

from __future__ import annotations

from django.conf import settings
from django.utils.translation import gettext as _

from backups import postgres
from backups.models import BackupArtifact
from backups.sources import register
from backups.sources.base import RestoreRefused, RestoreTarget, Source, SourceError
from backups.sources.database import DatabaseSource


@register
class DatabaseUrlSource(DatabaseSource):
    kind = "postgres"

    def __init__(self, name: str, problem: str = "") -> None:
        super().__init__(name)
        self.problem = problem  # why this entry cannot be backed up (the system check says the same)

    @classmethod
    def configured(cls) -> list[Source]:
        sources: dict[str, Source] = {name: cls(name) for name in settings.BACKUP_DATABASE_URLS}
        for problem in settings.BACKUP_DATABASE_URL_PROBLEMS:
            # every bad entry is a source that fails: a typo must fail the backup, not drop a database from it
            sources.setdefault(problem.name, cls(problem.name, problem.render(_)))
        return list(sources.values())

    @property
    def db(self) -> dict:
        return settings.BACKUP_DATABASE_URLS[self.name]

    def preflight(self) -> None:
        if self.problem:
            raise SourceError(_("BACKUP_DATABASE_URLS is not usable: %(problem)s") % {"problem": self.problem})
        super().preflight()

    def estimate_bytes(self) -> int | None:
        return postgres.database_data_size(self.db)

    @classmethod
    def target_db(cls, artifact: BackupArtifact, target: RestoreTarget) -> dict:
        if target.into:
            return super().target_db(artifact, target)
        if artifact.name not in settings.BACKUP_DATABASE_URLS:
            raise RestoreRefused(
                _("This backup is of database %(name)s, which BACKUP_DATABASE_URLS does not name here; use --into.")
                % {"name": artifact.name}
            )
        return settings.BACKUP_DATABASE_URLS[artifact.name]
