"""API probes against the portal served by a real server on a loopback port."""

from __future__ import annotations

import socket

import pytest

from performance.models import PerfResult, PerfTarget
from performance.services import perf_target_probe

pytestmark = pytest.mark.django_db(transaction=True)


def test_probe_of_the_health_api_records_status_timings_and_size(portal, make_target):
    target = make_target(name="liveness", url_name="monitoring:health-live", samples=3)

    results = perf_target_probe(target_id=target.pk)

    assert len(results) == 3
    for result in PerfResult.objects.filter(target=target):
        assert result.outcome == PerfResult.Outcome.OK
        assert result.http_status == 200
        assert 0 < result.ttfb_ms <= result.duration_ms
        assert result.size_bytes == len(b'{"status": "ok"}')
        assert result.error == ""
    target.refresh_from_db()
    assert target.budget_ms == 1000  # the API default
    assert target.breached_since is None
    assert target.last_p95_ms is not None and target.last_p95_ms < 1000


def test_a_slow_view_breaches_its_budget_and_signals_once(portal, make_target, budget_signals):
    target = make_target(name="slow", url="/perf-test/slow/150/", budget_ms=100, samples=2)

    perf_target_probe(target_id=target.pk)
    perf_target_probe(target_id=target.pk)  # still breached: no second signal

    target.refresh_from_db()
    assert target.breached_since is not None
    assert target.last_p95_ms >= 150
    assert [kind for kind, _ in budget_signals] == ["breached"]
    payload = budget_signals[0][1]
    assert payload["target"].pk == target.pk
    assert payload["budget_ms"] == 100
    assert payload["p95_ms"] >= 150


def test_a_breached_target_recovers_when_its_window_is_fast_again(portal, make_target, budget_signals, settings):
    target = make_target(name="slow then fast", url="/perf-test/slow/150/", budget_ms=100, samples=1)
    perf_target_probe(target_id=target.pk)
    PerfResult.objects.filter(target=target).delete()  # the slow samples leave the window
    PerfTarget.objects.filter(pk=target.pk).update(url="/perf-test/slow/0/")

    perf_target_probe(target_id=target.pk)

    target.refresh_from_db()
    assert target.breached_since is None
    assert [kind for kind, _ in budget_signals] == ["breached", "recovered"]


def test_a_view_returning_500_is_a_failed_sample(portal, make_target):
    target = make_target(name="fails", url="/perf-test/fails/", samples=2)

    perf_target_probe(target_id=target.pk)

    results = list(PerfResult.objects.filter(target=target))
    assert len(results) == 2
    assert {r.outcome for r in results} == {PerfResult.Outcome.FAILED}
    assert {r.http_status for r in results} == {500}
    assert all("HTTP 500, expected 200" in r.error for r in results)


def test_a_closed_port_is_a_failed_sample_not_a_crash(db, settings, make_target):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed_port = sock.getsockname()[1]
    settings.PERF_BASE_URL = f"http://127.0.0.1:{closed_port}"
    target = make_target(name="nobody home", url="/api/system/health/live", samples=1)

    perf_target_probe(target_id=target.pk)

    result = PerfResult.objects.get(target=target)
    assert result.outcome == PerfResult.Outcome.FAILED
    assert result.http_status is None
    assert "ConnectError" in result.error


def test_a_disabled_or_already_claimed_target_is_not_probed(portal, make_target):
    disabled = make_target(name="off", url="/api/system/health/live", enabled=False)
    busy = make_target(name="busy", url="/api/system/health/live")
    from django.utils import timezone

    PerfTarget.objects.filter(pk=busy.pk).update(probing_since=timezone.now())

    assert perf_target_probe(target_id=disabled.pk) is None
    assert perf_target_probe(target_id=busy.pk) is None
    assert not PerfResult.objects.exists()


def test_a_url_name_that_no_longer_resolves_is_a_failed_sample(db, make_target):
    target = make_target(name="removed app", url_name="gone:away", samples=2)

    perf_target_probe(target_id=target.pk)

    result = PerfResult.objects.get(target=target)
    assert result.outcome == PerfResult.Outcome.FAILED
    assert result.error == "URL name 'gone:away' does not resolve"
    target.refresh_from_db()
    assert target.probing_since is None  # the claim is released


def test_a_window_without_timed_samples_keeps_the_budget_state(db, make_target, budget_signals):
    from django.utils import timezone

    from performance.services import perf_target_evaluate

    since = timezone.now()
    target = make_target(name="page without browser", kind="page", url="/x", breached_since=since)
    PerfResult.objects.create(target=target, measured_at=timezone.now(), outcome="unavailable", error="no browser")

    perf_target_evaluate(target=target)

    target.refresh_from_db()
    assert target.breached_since == since
    assert budget_signals == []


def test_of_many_simultaneous_claims_on_one_target_exactly_one_wins(make_target):
    import threading

    from django.db import connection

    from performance.services import perf_target_claim

    target = make_target(name="contended", url="/x")
    barrier = threading.Barrier(6)
    wins: list[bool] = []

    def claim() -> None:
        try:
            barrier.wait()
            wins.append(perf_target_claim(target_id=target.pk))
        finally:
            connection.close()

    threads = [threading.Thread(target=claim) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(wins) == [False] * 5 + [True]
