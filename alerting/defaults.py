"""The default rules, created once (post_migrate) and never overwritten: an admin's edits and deletions stand."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.utils.translation import gettext_noop

from alerting.models import AlertRule, CheckStatus, Comparator, RuleKind, Severity
from alerting.observations import (
    EVENT_BACKUP_FAILED,
    METRIC_BACKUP_AGE,
    METRIC_BUDGET_BREACHED,
    METRIC_DISK_USED,
    METRIC_MEMORY_USED,
    METRIC_ROUTE_OVER_BUDGET,
)


def default_rules() -> list[dict]:
    # Names are stored (they are data, editable); gettext_noop marks them for the catalog all the same.
    return [
        {
            "key": "disk-full",
            "name": gettext_noop("Disk almost full"),
            "kind": RuleKind.METRIC,
            "metric_name": METRIC_DISK_USED,
            "comparator": Comparator.GT,
            "threshold": 90,
            "for_duration": timedelta(minutes=5),
            "severity": Severity.CRITICAL,
        },
        {
            "key": "memory-full",
            "name": gettext_noop("Memory almost full"),
            "kind": RuleKind.METRIC,
            "metric_name": METRIC_MEMORY_USED,
            "comparator": Comparator.GT,
            "threshold": 90,
            "for_duration": timedelta(minutes=5),
            "severity": Severity.WARNING,
        },
        {
            # Snapshots store each check's effective severity: a check declared critical=False that reads critical is
            # stored as a warning (monitoring/services.py), so this rule never pages for it.
            "key": "check-critical",
            "name": gettext_noop("Health check critical"),
            "kind": RuleKind.CHECK,
            "check_name": "",
            "check_status": CheckStatus.CRITICAL,
            "for_duration": timedelta(minutes=2),
            "severity": Severity.CRITICAL,
        },
        {
            # A host whose processes stopped reporting (monitoring's `host` check, a warning per silent host): its
            # worker or gunicorn died, or the host is down. Resolves when it reports again.
            "key": "host-silent",
            "name": gettext_noop("A host stopped reporting"),
            "kind": RuleKind.CHECK,
            "check_name": "host",
            "check_status": CheckStatus.WARNING,
            "for_duration": timedelta(minutes=2),
            "severity": Severity.CRITICAL,
        },
        {
            "key": "backup-failed",
            "name": gettext_noop("Backup failed"),
            "kind": RuleKind.EVENT,
            "event_name": EVENT_BACKUP_FAILED,
            # Fires at once; resolves after a day without further failures (a daily backup that works again).
            "for_duration": timedelta(0),
            "resolve_after": timedelta(hours=24),
            "repeat_interval": None,
            "severity": Severity.CRITICAL,
        },
        {
            "key": "backup-rpo",
            "name": gettext_noop("No successful backup within the RPO"),
            "kind": RuleKind.METRIC,
            "metric_name": METRIC_BACKUP_AGE,
            "comparator": Comparator.GT,
            "threshold": settings.BACKUP_RPO.total_seconds(),
            "for_duration": timedelta(0),
            "severity": Severity.CRITICAL,
            "description": gettext_noop("The threshold is BACKUP_RPO in seconds when the rule was created."),
        },
        {
            # Physical backups (pgBackRest): the latest WAL archive attempt failed, so the recovery point stands still.
            "key": "wal-archive-failing",
            "name": gettext_noop("WAL archiving stalled"),
            "kind": RuleKind.METRIC,
            "metric_name": "backup_wal_archive_failing",
            "comparator": Comparator.GT,
            "threshold": 0,
            "for_duration": timedelta(minutes=5),
            "severity": Severity.CRITICAL,
        },
        {
            "key": "wal-archive-lag",
            "name": gettext_noop("WAL waits for the archive longer than the archive RPO"),
            "kind": RuleKind.METRIC,
            "metric_name": "backup_wal_archive_lag_seconds",
            "comparator": Comparator.GT,
            "threshold": settings.BACKUP_PGBACKREST_ARCHIVE_RPO.total_seconds(),
            "for_duration": timedelta(0),
            "severity": Severity.WARNING,
            "description": gettext_noop("The threshold is BACKUP_PGBACKREST_ARCHIVE_RPO in seconds when the rule was "
                                        "created."),
        },
        {
            "key": "performance-budget",
            "name": gettext_noop("Performance budget breached"),
            "kind": RuleKind.METRIC,
            # 1 while a target's p95 is over its budget or its last probe round failed (performance/observations.py).
            "metric_name": METRIC_BUDGET_BREACHED,
            "comparator": Comparator.GT,
            "threshold": 0,
            "for_duration": timedelta(minutes=10),
            "severity": Severity.WARNING,
        },
        {
            "key": "route-over-budget",
            "name": gettext_noop("A route's p95 over its budget"),
            "kind": RuleKind.METRIC,
            # 1 while a route's p95 of real requests (last 5 min) is over 1 s (API) or 3 s (page), per route
            # (performance/route_observations.py)
            "metric_name": METRIC_ROUTE_OVER_BUDGET,
            "comparator": Comparator.GT,
            "threshold": 0,
            "for_duration": timedelta(minutes=10),
            "severity": Severity.WARNING,
        },
    ]


def create_default_rules(**_: object) -> list[AlertRule]:
    """Create the default rules that do not exist yet (by key); return the ones created."""
    created = []
    existing_keys = set(AlertRule.objects.exclude(key=None).values_list("key", flat=True))
    taken_names = set(AlertRule.objects.values_list("name", flat=True))
    for spec in default_rules():
        if spec["key"] in existing_keys or spec["name"] in taken_names:
            continue
        created.append(AlertRule.objects.create(**spec))
    return created
