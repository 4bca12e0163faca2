"""The backups app's health checks (discovered by monitoring.registry, like any module's health.py).

`backups`: age of the last complete backup against BACKUP_RPO (warning), critical at twice it; the last drill
outcome. Only a complete backup counts: one that succeeded and holds every source configured now, manual or
scheduled (backup_run_latest_complete). A restore's safety backup and a partial run (`only=`) never satisfy the RPO,
so failing nightly backups cannot hide behind them. A portal that has never backed up is a warning, not an error.

`wal_archive`: WAL archiving of physical backups (backups/physical/health.py).
"""

from __future__ import annotations

from django.conf import settings
from django.db import connections
from django.utils import timezone
from django.utils.translation import gettext_noop as _

from backups.models import BackupRun
from backups.physical.health import WalArchiveCheck  # noqa: F401 (registers the check)
from backups.selectors import (
    backup_freshness,
    backup_freshness_from,
    backup_freshness_sql,
    backup_run_latest_succeeded,
)
from monitoring.checks.base import CheckOutcome, HealthCheck, MetricValue
from monitoring.messages import Message
from monitoring.registry import register
from monitoring.sqlread import SqlRead


@register
class BackupsCheck(HealthCheck):
    name = "backups"
    uses_database = True

    def run(self) -> CheckOutcome:
        # One query: the latest complete backup and the latest drill (the warnings below read one more).
        return self._outcome(backup_freshness())

    def sql_alias(self) -> str | None:
        alias = BackupRun.objects.db
        return alias if connections[alias].vendor == "postgresql" else None

    def sql_read(self) -> SqlRead | None:
        """That query as a read the runner may share with the other database checks (monitoring/sqlread.py)."""
        found = backup_freshness_sql()
        if found is None:
            return None
        sql, params = found
        return SqlRead(BackupRun.objects.db, [sql],
                       lambda row, _seconds: self._outcome(backup_freshness_from(row[0])), params)

    def _outcome(self, found) -> CheckOutcome:
        if found is None:
            if backup_run_latest_succeeded() is not None:
                return self.warning(Message(_("no complete backup of every configured source yet")),
                                    {"last_success": None})
            return self.warning(Message(_("no successful backup yet")), {"last_success": None})

        last, drill = found
        rpo = settings.BACKUP_RPO
        age = timezone.now() - last.finished_at
        values: dict = {"last_success": last.finished_at.isoformat(), "age_seconds": round(age.total_seconds()),
                        "rpo_seconds": rpo.total_seconds(), "run": str(last.pk)}
        samples = [MetricValue("backup_last_success_age_seconds", age.total_seconds(), {},
                          "Age of the last successful backup.")]
        values["size_bytes"] = last.total_bytes
        samples.append(MetricValue("backup_last_size_bytes", float(last.total_bytes), {},
                              "Size of the last successful backup."))
        if drill:
            values["last_drill"] = drill

        hours = age.total_seconds() / 3600
        if age > 2 * rpo:
            return self.failure(Message(_("last successful backup %(hours).1f h ago, more than twice the RPO"),
                                        {"hours": hours}), values, samples)
        if age > rpo:
            return self.warning(Message(_("last successful backup %(hours).1f h ago, older than the RPO"),
                                        {"hours": hours}), values, samples)
        message = Message(_("last successful backup %(hours).1f h ago"), {"hours": hours})
        if drill and drill["outcome"] == BackupRun.Verification.FAILED:
            return self.warning(Message(_("%(message)s; the last verification or restore drill failed"),
                                        {"message": message}), values, samples)
        return self.ok(message, values, samples)
