"""The timing middleware under real concurrent traffic, and the aggregator's flushing into RequestStat rows."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from performance.models import RequestStat
from performance.selectors import request_stats_summary
from performance.timing import BUCKETS_MS, STATIC_ROUTE, UNMATCHED_ROUTE, RequestTimingAggregator
from tests.performance.conftest import histogram_counts

pytestmark = pytest.mark.django_db(transaction=True)


def test_concurrent_requests_are_counted_exactly_by_route_pattern(portal, aggregator):
    paths = [f"/perf-test/slow/{ms}/" for ms in (0, 1, 2, 3)] * 10 + ["/api/system/health/live"] * 20
    with httpx.Client(base_url=portal.url) as client, ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(lambda path: client.get(path).status_code, paths))
    assert statuses == [200] * 60

    written = aggregator.flush()

    assert written >= 2
    summary = {(s.route, s.method): s for s in request_stats_summary()}
    # Four different raw paths, one route: the pattern, never the path, is the label.
    assert summary[("perf-test/slow/<int:ms>/", "GET")].count == 40
    assert summary[("api/system/health/live", "GET")].count == 20
    assert not RequestStat.objects.filter(route__contains="slow/3").exists()


def test_unmatched_paths_share_one_label_and_status_classes_are_kept_apart(portal, aggregator):
    with httpx.Client(base_url=portal.url) as client:
        for index in range(5):
            assert client.get(f"/no/such/page/{index}").status_code == 404

        assert client.get("/perf-test/fails/").status_code == 500
        assert client.options("/api/system/health/live").status_code == 405

    aggregator.flush()

    rows = {(r.route, r.method, r.status_class): r.count for r in RequestStat.objects.all()}
    assert rows[(UNMATCHED_ROUTE, "GET", "4xx")] == 5
    assert rows[("perf-test/fails/", "GET", "5xx")] == 1
    assert rows[("api/system/health/live", "OPTIONS", "4xx")] == 1


def test_static_files_served_by_whitenoise_share_one_label(client, aggregator):
    # The test client runs the full middleware stack, where WhiteNoise answers before URL resolution (the live
    # server fixture serves static files before any middleware, so it cannot show this).
    assert client.get("/static/admin/css/base.css").status_code == 200
    assert client.get("/static/admin/css/login.css").status_code == 200

    aggregator.flush()

    assert list(RequestStat.objects.values_list("route", "status_class", "count")) == [(STATIC_ROUTE, "2xx", 2)]


def test_histogram_buckets_put_a_slow_request_above_the_api_budget(portal, aggregator):
    with httpx.Client(base_url=portal.url, timeout=10) as client:
        assert client.get("/perf-test/slow/1100/").status_code == 200

    aggregator.flush()

    stat = RequestStat.objects.get(route="perf-test/slow/<int:ms>/")
    assert stat.count == 1 and stat.max_ms >= 1100
    above_one_second = BUCKETS_MS.index(1000) + 1
    assert sum(stat.buckets[above_one_second:]) == 1
    summary = request_stats_summary()[0]
    assert (summary.over_1s, summary.over_3s) == (1, 0)


def test_observations_from_many_threads_lose_nothing():
    aggregator = RequestTimingAggregator(background=False)
    start = threading.Barrier(8)

    def hammer() -> None:
        start.wait()
        for index in range(2000):
            aggregator.observe("items/<int:pk>/", "GET", 200, (index % 50) / 1000)

    threads = [threading.Thread(target=hammer) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    per_minute = [keys[("items/<int:pk>/", "GET", "2xx")] for keys in aggregator.take(include_current=True).values()]
    assert sum(bucket.count for bucket in per_minute) == 16000
    assert sum(sum(bucket.buckets) for bucket in per_minute) == 16000
    assert max(bucket.max_ms for bucket in per_minute) == pytest.approx(49.0)
    # The Prometheus histogram (prometheus-client's own locking) loses nothing either.
    assert histogram_counts(aggregator) == {("items/<int:pk>/", "GET", "2xx"): 16000}


def test_the_background_flusher_writes_finished_minutes(db):
    aggregator = RequestTimingAggregator(flush_interval=0.2, background=True)
    a_minute_ago = time.time() - 60
    aggregator.observe("reports/", "GET", 200, 0.120, now=a_minute_ago)
    aggregator.observe("reports/", "GET", 503, 0.030, now=a_minute_ago)
    aggregator.observe("reports/", "GET", 200, 0.010)  # the current minute stays in memory until it is over
    try:
        deadline = time.monotonic() + 10
        while RequestStat.objects.count() < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        aggregator.stop()

    rows = {r.status_class: r for r in RequestStat.objects.all()}
    assert set(rows) == {"2xx", "5xx"}
    assert rows["2xx"].count == 1 and rows["2xx"].sum_ms == pytest.approx(120)
    assert rows["2xx"].minute.timestamp() == int(a_minute_ago // 60) * 60


def test_a_forked_worker_process_starts_with_empty_numbers():
    """gunicorn forks its workers from the master: a child must not report (and flush) the parent's requests."""
    import os

    aggregator = RequestTimingAggregator(background=False)
    aggregator.observe("before/fork/", "GET", 200, 0.01)
    pid = os.fork()
    if pid == 0:  # the child: exit status tells the parent what it saw
        empty = aggregator.take(include_current=True) == {} and histogram_counts(aggregator) == {}
        aggregator.observe("child/", "GET", 200, 0.01)
        counted = histogram_counts(aggregator) == {("child/", "GET", "2xx"): 1}
        os._exit(0 if empty and counted else 1)
    _, status = os.waitpid(pid, 0)

    assert os.waitstatus_to_exitcode(status) == 0
    assert histogram_counts(aggregator) == {("before/fork/", "GET", "2xx"): 1}
    taken = aggregator.take(include_current=True)
    assert [keys[("before/fork/", "GET", "2xx")].count for keys in taken.values()] == [1]
