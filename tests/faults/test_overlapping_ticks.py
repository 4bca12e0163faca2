"""Overlapping beat ticks and clock jumps: one snapshot per interval, however many ticks arrive, whichever way
the clock moves. (Alerts and notifications under racing evaluators: tests/alerting/test_race.py.)"""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from monitoring.models import HealthSnapshot
from monitoring.services import health_snapshot_take
from monitoring.tasks import take_snapshot
from tests.alerting.test_race import run_together

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.faults]


@pytest.fixture(autouse=True)
def quick_checks(settings):
    settings.MONITOR_DISABLED_CHECKS = ["celery", "docker"]  # no worker or engine here: the rest decides
    settings.MONITOR_SNAPSHOT_INTERVAL = timedelta(minutes=1)


def test_four_ticks_at_once_make_one_snapshot():
    run_together(*[take_snapshot] * 4)
    assert HealthSnapshot.objects.count() == 1


def test_a_backlog_of_ticks_delivered_late_makes_one_snapshot_per_interval():
    # A worker back after downtime receives the queued ticks one after another within the same minute.
    for _ in range(5):
        take_snapshot()
    assert HealthSnapshot.objects.count() == 1


def test_clock_jumps_back_and_forth_and_snapshots_continue_without_duplicates():
    start = timezone.now()
    assert health_snapshot_take() is not None
    with time_machine.travel(start - timedelta(hours=1), tick=True):
        # The newest snapshot now lies an hour in the future; it must not stop snapshots for an hour.
        first = health_snapshot_take()
        assert first is not None and first.taken_at < start
        assert health_snapshot_take() is None  # but a second tick in this minute adds nothing
    with time_machine.travel(start + timedelta(hours=2), tick=True):
        assert health_snapshot_take() is not None
        assert health_snapshot_take() is None
    assert HealthSnapshot.objects.count() == 3


def test_the_next_interval_gets_its_snapshot():
    start = timezone.now()
    assert health_snapshot_take() is not None
    with time_machine.travel(start + timedelta(seconds=61), tick=True):
        assert health_snapshot_take() is not None
    assert HealthSnapshot.objects.count() == 2
