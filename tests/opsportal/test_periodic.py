"""The one periodic-thread helper behind the heartbeats and flushers: a failing round is logged, the loop goes on."""

from __future__ import annotations

import logging
import threading

from opsportal.lib.periodic import PeriodicThread

logger = logging.getLogger("tests.periodic")


def test_a_failing_round_is_logged_and_the_next_round_still_runs(caplog):
    rounds: list[int] = []
    third = threading.Event()

    def action() -> None:
        rounds.append(len(rounds))
        if len(rounds) == 1:
            raise RuntimeError("database went away")
        if len(rounds) == 3:
            third.set()

    beat = PeriodicThread(action, every=0.01, name="test-beat", error_message="test beat failed", logger=logger)
    with caplog.at_level(logging.ERROR, logger="tests.periodic"):
        beat.start()
        assert third.wait(30), "the loop stopped after the failing round"
        beat.stop(join_timeout=30)
    assert not beat.thread.is_alive()
    assert [r.getMessage() for r in caplog.records] == ["test beat failed"]
    assert "database went away" in caplog.text


def test_the_first_round_runs_at_once_only_when_asked():
    ran = threading.Event()
    # an interval far longer than the test: only the round at start can run
    beat = PeriodicThread(ran.set, every=3600, name="test-beat", error_message="x", logger=logger,
                          first_round_at_start=True).start()
    assert ran.wait(30)
    beat.stop(join_timeout=30)
    assert not beat.thread.is_alive()

    never = threading.Event()
    quiet = PeriodicThread(never.set, every=3600, name="test-beat", error_message="x", logger=logger).start()
    quiet.stop(join_timeout=30)
    assert not quiet.thread.is_alive() and not never.is_set()


def test_an_action_can_end_its_own_loop():
    calls: list[int] = []
    beat: PeriodicThread

    def once() -> None:
        calls.append(1)
        beat.stop_event.set()

    beat = PeriodicThread(once, every=0.01, name="test-beat", error_message="x", logger=logger).start()
    beat.thread.join(30)
    assert not beat.thread.is_alive() and calls == [1]
