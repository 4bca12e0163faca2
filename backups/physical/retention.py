"""Retention of physical backups through `pgbackrest expire` (full and diff counts), never past a pinned run.

pgBackRest has no pin of its own, so the portal keeps pinned runs in two ways. First, the full count it hands to
`expire` is raised far enough that the full backup a pinned run depends on (or the pinned full itself) is kept.
Second, before expiring it asks pgBackRest what it would remove (`expire --dry-run`); if that still includes a pinned
set (a diff count that would drop a pinned diff or incr, say), it expires nothing and says so. Pinning is also an
annotation on the pgBackRest set (opsportal-pinned=1), so it survives a re-index of the catalog.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from django.conf import settings
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from backups.models import BackupRun
from backups.physical import KIND
from backups.physical.command import pgbackrest_run
from backups.physical.info import PINNED_ANNOTATION, StanzaInfo, stanza_info

_LABEL = re.compile(r"\b\d{8}-\d{6}F(?:_\d{8}-\d{6}[DI])?\b")


@dataclass
class ExpirePlan:
    retention_full: int
    retention_diff: int | None
    pinned: list[str]
    to_expire: list[str] = field(default_factory=list)
    refused: str = ""
    expired: list[str] = field(default_factory=list)


def describe() -> list[str]:
    rules = [ngettext("physical: the last %(n)s full backup and what depends on it",
                      "physical: the last %(n)s full backups and what depends on them",
                      settings.BACKUP_PGBACKREST_RETENTION_FULL) % {"n": settings.BACKUP_PGBACKREST_RETENTION_FULL}]
    if settings.BACKUP_PGBACKREST_RETENTION_DIFF:
        rules.append(ngettext("physical: the last %(n)s differential backup", "physical: the last %(n)s "
                              "differential backups", settings.BACKUP_PGBACKREST_RETENTION_DIFF)
                     % {"n": settings.BACKUP_PGBACKREST_RETENTION_DIFF})
    rules.append(_("physical: pinned runs and the backups they depend on (through pgbackrest expire)"))
    return rules


def pinned_labels(info: StanzaInfo) -> list[str]:
    labels = set(BackupRun.objects.filter(kind=KIND, pinned=True).values_list("artifacts__path", flat=True))
    labels |= {b.label for b in info.backups if b.pinned}
    return sorted(label for label in labels if label and info.find(label) is not None)


def _full_of(info: StanzaInfo, label: str) -> str:
    backup = info.find(label)
    while backup is not None and backup.type != "full" and backup.prior:
        backup = info.find(backup.prior)
    return backup.label if backup is not None else label


def plan(info: StanzaInfo | None = None) -> ExpirePlan:
    info = info or stanza_info()
    pinned = pinned_labels(info)
    fulls = sorted(b.label for b in info.backups if b.type == "full")
    keep_full = settings.BACKUP_PGBACKREST_RETENTION_FULL
    for label in pinned:
        full = _full_of(info, label)
        if full in fulls:
            keep_full = max(keep_full, len(fulls) - fulls.index(full))
    result = ExpirePlan(retention_full=keep_full, retention_diff=settings.BACKUP_PGBACKREST_RETENTION_DIFF or None,
                        pinned=pinned)
    output = _expire(result, dry_run=True)
    result.to_expire = sorted(set(_LABEL.findall(output)) & {b.label for b in info.backups})
    blocked = sorted(set(result.to_expire) & set(pinned))
    if blocked:
        result.refused = _("pgbackrest expire would remove the pinned set(s) %(labels)s (BACKUP_PGBACKREST_"
                           "RETENTION_DIFF is too low for them); nothing was expired. Unpin them or raise the diff "
                           "count.") % {"labels": ", ".join(blocked)}
    return result


def _expire(result: ExpirePlan, *, dry_run: bool) -> str:
    args = ["expire", f"--repo1-retention-full={result.retention_full}", "--log-level-console=info"]
    if result.retention_diff:
        args.append(f"--repo1-retention-diff={result.retention_diff}")
    if dry_run:
        args.append("--dry-run")
    return pgbackrest_run(args, timeout=3600)


def physical_expire(*, dry_run: bool = False) -> ExpirePlan:
    """Apply the physical retention; the catalog is re-indexed afterwards so expired runs leave it."""
    from backups.physical.catalog import physical_catalog_reindex

    result = plan()
    if dry_run or result.refused or not result.to_expire:
        return result
    before = {b.label for b in stanza_info().backups}
    _expire(result, dry_run=False)
    after = stanza_info()
    result.expired = sorted(before - {b.label for b in after.backups})
    physical_catalog_reindex(after)
    return result


def physical_pin(*, run: BackupRun, pinned: bool) -> None:
    """Pin or unpin a physical run, in the catalog and as an annotation on its pgBackRest set."""
    artifact = run.artifacts.first()
    BackupRun.objects.filter(pk=run.pk).update(pinned=pinned)
    if artifact is not None:
        value = "1" if pinned else "0"
        pgbackrest_run(["annotate", f"--set={artifact.path}", f"--annotation={PINNED_ANNOTATION}={value}"],
                       timeout=120)


def physical_run_delete(*, run: BackupRun) -> list[str]:
    """Expire exactly this set (and what depends on it) in pgBackRest, then re-index; problems, or []."""
    from backups.physical.catalog import physical_catalog_reindex

    artifact = run.artifacts.first()
    if artifact is None:
        run.delete()
        return []
    info = stanza_info()
    dependents = info.dependents_of(artifact.path)
    pinned = sorted(set(dependents) & set(pinned_labels(info)))
    if pinned:
        return [_("deleting %(label)s would expire the pinned set(s) %(pinned)s that depend on it")
                % {"label": artifact.path, "pinned": ", ".join(pinned)}]
    try:
        pgbackrest_run(["expire", f"--set={artifact.path}", "--log-level-console=info"], timeout=3600)
    except Exception as exc:
        return [str(exc)]
    physical_catalog_reindex()
    BackupRun.objects.filter(pk=run.pk, kind=KIND).delete()
    return []
