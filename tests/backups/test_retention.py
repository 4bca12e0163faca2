"""The retention policy (grandfather-father-son + maximum age) over two years of nightly runs, on a frozen clock."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import time_machine
from django.utils import timezone

from backups.models import BackupRun
from backups.services.retention import RetentionPolicy, retention_decide

POLICY = RetentionPolicy(keep_last=7, keep_daily=14, keep_weekly=8, keep_monthly=12, max_age=timedelta(days=400))
START = datetime(2025, 1, 1, 3, 0, tzinfo=UTC)


def synthetic(pk: int, created_at: datetime, **fields) -> BackupRun:
    return BackupRun(
        pk=pk,
        created_at=created_at,
        status=fields.pop("status", BackupRun.Status.SUCCEEDED),
        trigger=fields.pop("trigger", BackupRun.Trigger.SCHEDULED),
        **fields,
    )


def simulate(days: int, special: dict[int, dict] | None = None) -> tuple[list[BackupRun], datetime]:
    """A nightly backup at 03:00 and a prune right after it, every day; return what is left and the final time."""
    special = special or {}
    kept: list[BackupRun] = []
    with time_machine.travel(START, tick=False) as clock:
        for day in range(days):
            kept.append(synthetic(day + 1, timezone.now(), **special.get(day, {})))
            decisions = retention_decide(runs=kept, policy=POLICY, now=timezone.now())
            kept = [d.run for d in decisions if d.keep]
            clock.shift(timedelta(days=1))
        return kept, timezone.now() - timedelta(days=1)


def test_two_years_of_nightly_backups_keep_daily_weekly_and_monthly_ones():
    kept, now = simulate(730)
    days = sorted({r.created_at.date() for r in kept})
    today = now.date()
    assert len(days) == len(kept)  # one a day at most
    # Daily: each of the last 14 days.
    assert [today - timedelta(days=n) for n in range(14)] == sorted(days, reverse=True)[:14]
    # Weekly: the newest (Sunday's) backup of each of the last 8 ISO weeks.
    weeks = {d.isocalendar()[:2] for d in days}
    for n in range(8):
        assert (today - timedelta(weeks=n)).isocalendar()[:2] in weeks
    # Monthly: the newest backup of each of the last 12 months is the month's last day (or today).
    for n in range(12):
        month = _month_back(today, n)
        newest = max(d for d in days if (d.year, d.month) == month)
        assert newest == min(today, _last_day(month))
    # Nothing else: older months are gone, whatever happened 2 years ago.
    assert min(days) >= date(today.year - 1, today.month, 1)
    assert len(kept) < 14 + 8 + 12


def test_pinned_running_and_the_newest_verified_survive_everything_failed_and_partial_go_after_the_daily_window():
    special = {
        10: {"pinned": True},  # two years ago
        400: {"verification": BackupRun.Verification.VERIFIED},  # the newest verified one, ~11 months ago
        300: {"verification": BackupRun.Verification.DRILL_PASSED},  # an older verified one: no special protection
        720: {"status": BackupRun.Status.FAILED},  # 9 days ago: kept for the record
        700: {"status": BackupRun.Status.FAILED},  # 29 days ago: gone
        725: {"trigger": BackupRun.Trigger.SAFETY, "only": ["database:default"]},
        705: {"trigger": BackupRun.Trigger.SAFETY, "only": ["database:default"]},
    }
    kept, now = simulate(730, special)
    by_pk = {r.pk: r for r in kept}
    assert 11 in by_pk and by_pk[11].pinned
    assert 401 in by_pk
    assert 301 not in by_pk or _is_month_end(by_pk[301])
    assert 721 in by_pk and 701 not in by_pk
    assert 726 in by_pk and 706 not in by_pk

    # A running run is never pruned, however old; a queued one neither.
    stuck = synthetic(9999, now - timedelta(days=900), status=BackupRun.Status.RUNNING)
    decisions = {d.run.pk: d for d in retention_decide(runs=[*kept, stuck], policy=POLICY, now=now)}
    assert decisions[9999].keep and "still running" in decisions[9999].reasons


def test_the_maximum_age_wins_over_every_rule_but_pins_and_the_newest_verified():
    policy = RetentionPolicy(keep_last=50, keep_daily=60, keep_weekly=52, keep_monthly=24, max_age=timedelta(days=30))
    now = START + timedelta(days=100)
    runs = [synthetic(n, START + timedelta(days=n)) for n in range(100)]
    runs[5].pinned = True
    runs[6].verification = BackupRun.Verification.VERIFIED
    decisions = {d.run.pk: d for d in retention_decide(runs=runs, policy=policy, now=now)}
    assert all(decisions[n].keep == (n >= 70 or n in (5, 6)) for n in range(100))
    assert "older than the maximum age (30 days)" in decisions[0].reasons
    assert decisions[5].reasons == ["pinned"]
    assert decisions[6].reasons == ["newest successful verified backup"]


def test_every_decision_says_why():
    runs = [synthetic(n, START + timedelta(hours=6 * n)) for n in range(40)]
    for decision in retention_decide(runs=runs, policy=POLICY, now=START + timedelta(days=10)):
        assert decision.reasons
    newest = retention_decide(runs=runs, policy=POLICY, now=START + timedelta(days=10))[0]
    assert newest.reasons[0] == "one of the last 7"
    assert any(reason.startswith("daily: newest of ") for reason in newest.reasons)


def _month_back(today: date, n: int) -> tuple[int, int]:
    index = today.year * 12 + today.month - 1 - n
    return index // 12, index % 12 + 1


def _last_day(month: tuple[int, int]) -> date:
    year, number = month
    first_of_next = date(year + number // 12, number % 12 + 1, 1)
    return first_of_next - timedelta(days=1)


def _is_month_end(run: BackupRun) -> bool:
    day = run.created_at.date()
    return day == _last_day((day.year, day.month))
