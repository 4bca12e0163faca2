"""Retention: grandfather-father-son over successful backups, plus a maximum age.

`retention_decide` is pure (runs in, decisions out) so the policy is tested with a frozen clock and no storage;
`backup_runs_prune` applies it: it deletes the storage files and the records together (services/delete.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from backups.models import BackupRun
from backups.services.delete import backup_run_delete

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


@dataclass
class Decision:
    run: BackupRun
    keep: bool
    reasons: list[str] = field(default_factory=list)


def _months_between(later: date, earlier: date) -> int:
    return (later.year - earlier.year) * 12 + later.month - earlier.month


def _is_full(run: BackupRun) -> bool:
    """A complete backup of everything configured (not a safety backup of part of it)."""
    return not run.only and run.trigger != BackupRun.Trigger.SAFETY


def retention_decide(*, runs: Iterable[BackupRun], policy: RetentionPolicy, now: datetime) -> list[Decision]:
    """Keep or delete each run, with the reasons; newest first. Dates are UTC calendar days, ISO weeks, months."""
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
    for run in ordered:
        decision = Decision(run=run, keep=False)
        decisions.append(decision)
        day = run.created_at.astimezone(UTC).date()
        age = now - run.created_at
        if run.status in (BackupRun.Status.QUEUED, BackupRun.Status.RUNNING):
            decision.keep, decision.reasons = True, [_("still %(status)s") % {"status": run.get_status_display()}]
            continue
        if run.pinned:
            decision.reasons.append(_("pinned"))
        if run is newest_verified:
            decision.reasons.append(_("newest successful verified backup"))
        if run.status != BackupRun.Status.SUCCEEDED or not _is_full(run):
            # Failed runs (no files) and partial/safety backups are kept for the daily window, for the record.
            if (today - day).days < policy.keep_daily and age <= policy.max_age:
                decision.reasons.append(
                    _("failed, kept %(n)s days for the record") % {"n": policy.keep_daily}
                    if run.status != BackupRun.Status.SUCCEEDED
                    else _("partial or safety backup, kept %(n)s days") % {"n": policy.keep_daily}
                )
            decision.keep = bool(decision.reasons)
            if not decision.keep:
                decision.reasons.append(
                    _("failed run older than %(n)s days") % {"n": policy.keep_daily}
                    if run.status != BackupRun.Status.SUCCEEDED
                    else _("partial or safety backup older than %(n)s days") % {"n": policy.keep_daily}
                )
            continue
        full_count += 1
        protected = bool(decision.reasons)
        if age > policy.max_age:
            decision.keep = protected
            if not protected:
                decision.reasons.append(
                    _("older than the maximum age (%(days)s days)")
                    % {"days": f"{policy.max_age.total_seconds() / 86400:g}"}
                )
            continue
        if full_count <= policy.keep_last:
            decision.reasons.append(_("one of the last %(n)s") % {"n": policy.keep_last})
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
            decision.reasons.append(_("not needed by any rule"))
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
    # Physical runs follow pgBackRest's own retention (backups/physical/retention.py, run by prunebackups too).
    runs = BackupRun.objects.filter(kind=BackupRun.Kind.LOGICAL).only(
        "id", "status", "trigger", "only", "created_at", "pinned", "verification", "storage_prefix", "log"
    )
    report = PruneReport(decisions=retention_decide(runs=runs, policy=policy, now=now or timezone.now()))
    if dry_run:
        return report
    for decision in report.to_delete:
        # Reload it: the run may have been pinned (or deleted) since the decision was made.
        run = BackupRun.objects.filter(pk=decision.run.pk, pinned=False).first()
        if run is None:
            continue
        problems = backup_run_delete(run=run)
        if problems:
            report.undeletable[run.pk] = problems
        else:
            report.deleted.append(run.pk)
    return report
