"""WAL archiving health: pg_stat_archiver of the backed-up cluster and the last `pgbackrest check`.

With archiving on, the recovery point is the last archived WAL segment, so this check measures the RPO in minutes:
critical while archiving fails (the latest attempt failed) or the last `pgbackrest check` failed, warning when
complete segments wait longer than BACKUP_PGBACKREST_ARCHIVE_RPO. `pgbackrest check` forces a WAL switch and may
wait for the archive, so it runs on its own schedule (tasks.py) and this check reads its stored outcome.
"""

from __future__ import annotations

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone
from django.utils.translation import gettext_noop as _

from monitoring.checks.base import CheckOutcome, HealthCheck, MetricValue
from monitoring.messages import Message
from monitoring.registry import register

CHECK_CACHE_KEY = "backups:pgbackrest-check"


def _check_key() -> str:
    return f"{CHECK_CACHE_KEY}:{settings.BACKUP_PGBACKREST_STANZA}"


def record_check_outcome(*, ok: bool, message: str) -> None:
    cache.set(_check_key(), {"ok": ok, "message": message, "at": timezone.now().isoformat()},
              timeout=int(3 * settings.BACKUP_PGBACKREST_CHECK_EVERY.total_seconds()))


@register
class WalArchiveCheck(HealthCheck):
    name = "wal_archive"
    uses_database = True
    timeout_override = 10.0

    @classmethod
    def instances(cls) -> list[HealthCheck]:
        from backups.physical.config import enabled

        return [cls()] if enabled() else []

    def run(self) -> CheckOutcome:
        from backups.physical.sql import archiver_state

        state = archiver_state()
        age = state.seconds_since_archived
        lag = age if (state.pending_segments and age is not None) else 0.0
        failing = 1.0 if state.failing else 0.0
        samples = [
            MetricValue("backup_wal_archive_age_seconds", age if age is not None else -1.0, {},
                   "Seconds since the last WAL segment was archived (-1: never)."),
            MetricValue("backup_wal_archive_failed_count", float(state.failed_count), {},
                   "Failed WAL archive attempts (pg_stat_archiver.failed_count)."),
            MetricValue("backup_wal_archive_failing", failing, {}, "1 while the latest WAL archive attempt failed."),
            MetricValue("backup_wal_archive_pending_segments", float(state.pending_segments), {},
                   "Complete WAL segments not archived yet."),
            MetricValue("backup_wal_archive_lag_seconds", lag, {},
                   "How long complete WAL segments have waited for the archive: the data a loss would cost."),
        ]
        values = {
            "archive_mode": state.archive_mode, "last_archived_wal": state.last_archived_wal,
            "last_archived_time": state.last_archived_time.isoformat() if state.last_archived_time else None,
            "failed_count": state.failed_count, "last_failed_wal": state.last_failed_wal,
            "pending_segments": state.pending_segments, "lag_seconds": round(lag),
            "rpo_seconds": settings.BACKUP_PGBACKREST_ARCHIVE_RPO.total_seconds(),
        }
        checked = cache.get(_check_key())
        if checked:
            values["pgbackrest_check"] = checked
        if state.archive_mode == "off":
            return self.failure(Message(_("WAL archiving is off (archive_mode=off): no point-in-time recovery")),
                                        values,
                                samples)
        if state.failing:
            return self.failure(
                Message(_("WAL archiving is failing: %(count)s failed attempts, the last for %(wal)s; %(pending)s "
                          "segment(s) wait"), {"count": state.failed_count, "wal": state.last_failed_wal,
                                               "pending": state.pending_segments}), values, samples)
        if checked and not checked.get("ok"):
            return self.failure(Message(_("pgbackrest check failed: %(message)s"), {"message": checked.get("message")}),
                                values, samples)
        if lag > settings.BACKUP_PGBACKREST_ARCHIVE_RPO.total_seconds():
            return self.warning(Message(_("%(pending)s WAL segment(s) have waited %(minutes).1f min for the archive, "
                                          "longer than the archive RPO"),
                                        {"pending": state.pending_segments, "minutes": lag / 60}),
                                values, samples)
        if age is None:
            return self.warning(Message(_("no WAL segment has been archived yet")), values, samples)
        return self.ok(Message(_("last WAL segment archived %(minutes).1f min ago; nothing waits")
                               if not state.pending_segments else _("last WAL segment archived %(minutes).1f min ago"),
                               {"minutes": age / 60}), values, samples)
