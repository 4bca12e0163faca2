"""Retention: grandfather-father-son over successful backups, plus a maximum age.

`retention_decide` is pure (runs in, decisions out) so the policy is tested with a frozen clock and no storage;
`backup_runs_prune` applies it: it deletes the storage files and the records together (services/delete.py).

At 100,000 runs the decision is one query (a values() list of the few columns the policy reads, already in the
policy's order) and one pass over it; only the runs to delete are loaded as models, in chunks.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import NamedTuple, Protocol

from django.conf import settings
from django.db.models import BooleanField, ExpressionWrapper, Q, TextField
from django.db.models.functions import Cast
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from backups.models import BackupRun
from backups.services.delete import backup_run_delete

# Runs to delete loaded (with their artifacts) per query.
DELETE_CHUNK = 500
GOOD_VERIFICATIONS = (BackupRun.Verification.VERIFIED, BackupRun.Verification.DRILL_PASSED)


@dataclass(frozen=True)
class RetentionPolicy:
    keep_last: int
    keep_daily: int
    keep_weekly: int
    keep_monthly: int
    max_age: timedelta

    @classmethod
    def from_settings(cls) -> RetentionPolicy:
        return cls(
            keep_last=settings.BACKUP_KEEP_LAST,
            keep_daily=settings.BACKUP_KEEP_DAILY,
            keep_weekly=settings.BACKUP_KEEP_WEEKLY,
            keep_monthly=settings.BACKUP_KEEP_MONTHLY,
            max_age=settings.BACKUP_MAX_AGE,
        )

    def describe(self) -> list[str]:
        return [
            ngettext("the last %(n)s successful backup", "the last %(n)s successful backups", self.keep_last)
            % {"n": self.keep_last},
            ngettext(
                "the newest of each of the last %(n)s day", "the newest of each of the last %(n)s days", self.keep_daily
            )
            % {"n": self.keep_daily},
            ngettext(
                "the newest of each of the last %(n)s week",
                "the newest of each of the last %(n)s weeks",
                self.keep_weekly,
            )
            % {"n": self.keep_weekly},
            ngettext(
                "the newest of each of the last %(n)s month",
                "the newest of each of the last %(n)s months",
                self.keep_monthly,
            )
            % {"n": self.keep_monthly},
            _("nothing older than %(days)s days") % {"days": f"{self.max_age.total_seconds() / 86400:g}"},
            _("always: pinned and running backups, and the newest successful verified backup"),
        ]


class RunFacts(Protocol):
    """What the policy reads of a run: a BackupRun, or a `RunRow` from a values() list."""

    pk: int
    status: str
    trigger: str
    only: list | tuple
    created_at: datetime
    pinned: bool
    verification: str


class RunRow(NamedTuple):
    """A run as the policy and the prune report see it, without loading the model (its log, its artifacts)."""

    pk: int
    status: str
    trigger: str
    only: tuple  # empty when the run holds every source; which sources it holds is not read
    created_at: datetime
    pinned: bool
    verification: str


def _run_rows() -> list[RunRow]:
    """Every logical run, newest first, in one query of the columns the policy reads.

    Two columns come in a cheaper form, as their parsing dominates at 100,000 rows: `only` as "is it empty" (no
    JSON decoded), `created_at` as text parsed by datetime.fromisoformat (Django's timestamp loader costs ~8 µs
    a row). Physical runs follow pgBackRest's own retention (backups/physical/retention.py, run by prunebackups too).
    """
    rows = (
        BackupRun.objects.filter(kind=BackupRun.Kind.LOGICAL)
        .annotate(
            holds_all=ExpressionWrapper(Q(only=[]), output_field=BooleanField()),
            created_text=Cast("created_at", output_field=TextField()),
        )
        .order_by("-created_at", "-id")
        .values_list("pk", "status", "trigger", "holds_all", "created_text", "pinned", "verification")
    )
    partial = ("some",)
    return [
        RunRow(pk, status, trigger, () if holds_all else partial, _utc(created), pinned, verification)
        for pk, status, trigger, holds_all, created, pinned, verification in rows
    ]


def _utc(text: str) -> datetime:
    # PostgreSQL prints "2026-12-04 17:39:09.123456+00" (the connection's zone is UTC); SQLite stores naive UTC.
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@dataclass(slots=True)
class Decision:
    run: RunFacts
    keep: bool
    reasons: list[str] = field(default_factory=list)


def _months_between(later: date, earlier: date) -> int:
    return (later.year - earlier.year) * 12 + later.month - earlier.month


def retention_decide(*, runs: Iterable[RunFacts], policy: RetentionPolicy, now: datetime) -> list[Decision]:
    """Keep or delete each run, with the reasons; newest first. Dates are UTC calendar days, ISO weeks, months.

    One pass (after a sort, linear on runs already newest first); the reasons that do not depend on the run are
    translated once.
    """
    ordered = sorted(runs, key=lambda r: (r.created_at, r.pk or 0), reverse=True)
    today = now.astimezone(UTC).date() if timezone.is_aware(now) else now.date()
    this_monday = today - timedelta(days=today.weekday())
    newest_verified = next(
        (r for r in ordered if r.status == BackupRun.Status.SUCCEEDED and r.verification in GOOD_VERIFICATIONS), None
    )
    seen_days: set[date] = set()
    seen_weeks: set[tuple[int, int]] = set()
    seen_months: set[tuple[int, int]] = set()
    full_count = 0
    decisions = []
    days = f"{policy.max_age.total_seconds() / 86400:g}"
    fixed = {
        "pinned": _("pinned"),
        "newest_verified": _("newest successful verified backup"),
        "failed_kept": _("failed, kept %(n)s days for the record") % {"n": policy.keep_daily},
        "partial_kept": _("partial or safety backup, kept %(n)s days") % {"n": policy.keep_daily},
        "failed_old": _("failed run older than %(n)s days") % {"n": policy.keep_daily},
        "partial_old": _("partial or safety backup older than %(n)s days") % {"n": policy.keep_daily},
        "too_old": _("older than the maximum age (%(days)s days)") % {"days": days},
        "last": _("one of the last %(n)s") % {"n": policy.keep_last},
        "unneeded": _("not needed by any rule"),
    }
    # Plain values in locals: this loop runs once per run, 100,000 times in a large catalog.
    succeeded, safety = BackupRun.Status.SUCCEEDED.value, BackupRun.Trigger.SAFETY.value
    active = {BackupRun.Status.QUEUED.value, BackupRun.Status.RUNNING.value}
    oldest_allowed = now - policy.max_age
    for run in ordered:
        decision = Decision(run=run, keep=False)
        decisions.append(decision)
        if run.status in active:
            status = BackupRun.Status(run.status).label
            decision.keep, decision.reasons = True, [_("still %(status)s") % {"status": status}]
            continue
        created_at = run.created_at
        day = created_at.astimezone(UTC).date()
        if run.pinned:
            decision.reasons.append(fixed["pinned"])
        if run is newest_verified:
            decision.reasons.append(fixed["newest_verified"])
        failed = run.status != succeeded
        if failed or run.only or run.trigger == safety:  # not a full backup of everything configured
            # Failed runs (no files) and partial/safety backups are kept for the daily window, for the record.
            if (today - day).days < policy.keep_daily and created_at >= oldest_allowed:
                decision.reasons.append(fixed["failed_kept"] if failed else fixed["partial_kept"])
            decision.keep = bool(decision.reasons)
            if not decision.keep:
                decision.reasons.append(fixed["failed_old"] if failed else fixed["partial_old"])
            continue
        full_count += 1
        protected = bool(decision.reasons)
        if created_at < oldest_allowed:
            decision.keep = protected
            if not protected:
                decision.reasons.append(fixed["too_old"])
            continue
        if full_count <= policy.keep_last:
            decision.reasons.append(fixed["last"])
        if day not in seen_days:
            seen_days.add(day)
            if (today - day).days < policy.keep_daily:
                decision.reasons.append(_("daily: newest of %(day)s") % {"day": day.isoformat()})
        week = day.isocalendar()[:2]
        if week not in seen_weeks:
            seen_weeks.add(week)
            monday = day - timedelta(days=day.weekday())
            if (this_monday - monday).days // 7 < policy.keep_weekly:
                decision.reasons.append(
                    _("weekly: newest of week %(year)s-W%(week)02d") % {"year": week[0], "week": week[1]}
                )
        month = (day.year, day.month)
        if month not in seen_months:
            seen_months.add(month)
            if _months_between(today, day) < policy.keep_monthly:
                decision.reasons.append(_("monthly: newest of %(month)s") % {"month": f"{day:%Y-%m}"})
        decision.keep = bool(decision.reasons)
        if not decision.keep:
            decision.reasons.append(fixed["unneeded"])
    return decisions


@dataclass
class PruneReport:
    decisions: list[Decision]
    deleted: list[int] = field(default_factory=list)
    undeletable: dict[int, list[str]] = field(default_factory=dict)

    @property
    def to_delete(self) -> list[Decision]:
        return [d for d in self.decisions if not d.keep]


def backup_runs_prune(
    *, dry_run: bool = False, now: datetime | None = None, policy: RetentionPolicy | None = None
) -> PruneReport:
    """Apply the retention policy: delete what it does not keep (files and records), or only say so (dry_run)."""
    policy = policy or RetentionPolicy.from_settings()
    runs = _run_rows()
    report = PruneReport(decisions=retention_decide(runs=runs, policy=policy, now=now or timezone.now()))
    if dry_run:
        return report
    doomed = [decision.run.pk for decision in report.to_delete]
    for start in range(0, len(doomed), DELETE_CHUNK):
        # Reload them: a run may have been pinned (or deleted) since the decision was made.
        chunk = BackupRun.objects.filter(pk__in=doomed[start : start + DELETE_CHUNK], pinned=False)
        for run in chunk.prefetch_related("artifacts").order_by("-created_at", "-id"):
            problems = backup_run_delete(run=run)
            if problems:
                report.undeletable[run.pk] = problems
            else:
                report.deleted.append(run.pk)
    return report
