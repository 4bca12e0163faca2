"""Under gunicorn with several workers the request histogram of /api/system/metrics is the whole host's: whichever
worker answers a scrape reports the same counts, they only grow, and a killed worker's requests stay counted
(prometheus-client's multiprocess mode, set up by gunicorn.conf.py). Real gunicorn, real requests."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import httpx
import psutil
import pytest
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import Gunicorn, wait_for
from tests.opsportal.embedded import ROOT, clean_env

pytestmark = pytest.mark.django_db(transaction=True)

TOKEN = "metrics-token-for-gunicorn-tests-0123456789abcdef"
# The checks the metrics view runs are not under test here: the ones that wait on absent services are off.
ENV = {"METRICS_TOKEN": TOKEN, "MONITOR_WEB_HOST_REPORT": "false", "MONITOR_DISABLED_CHECKS": "celery,docker"}
HISTOGRAM = "opsportal_http_request_duration_seconds"
LIVE = ("api/system/health/live", "GET", "2xx")
METRICS = ("api/system/metrics", "GET", "2xx")

Key = tuple[str, str, str]


def scrape(server: Gunicorn) -> tuple[str, dict[Key, float], dict[tuple, float]]:
    """One Prometheus scrape: the text, the request count per key, and every histogram sample by (name, labels)."""
    response = httpx.get(f"{server.url}/api/system/metrics", params={"format": "prometheus"},
                         headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30)
    assert response.status_code == 200, response.text
    families = {family.name: family for family in text_string_to_metric_families(response.text)}
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value for s in families[HISTOGRAM].samples}
    counts = {
        (s.labels["route"], s.labels["method"], s.labels["status_class"]): s.value
        for s in families[HISTOGRAM].samples
        if s.name == HISTOGRAM + "_count"
    }
    return response.text, counts, samples


def counts_by_worker(server: Gunicorn, key: Key) -> dict[int, float]:
    """From the histogram files themselves: how many requests of `key` each worker process (pid) answered."""
    found = {}
    for path in (server.var_dir / "prometheus").glob("histogram_*.db"):
        for metric in MultiProcessCollector.merge([str(path)]):
            for s in metric.samples:
                if s.name == HISTOGRAM + "_count" and (s.labels["route"], s.labels["method"],
                                                       s.labels["status_class"]) == key:
                    found[int(path.stem.removeprefix("histogram_"))] = s.value
    return found


def get_live(server: Gunicorn, count: int) -> None:
    """`count` liveness requests, eight at a time so that several workers answer them."""
    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(lambda _: httpx.get(f"{server.url}/api/system/health/live", timeout=10).status_code,
                                 range(count)))
    assert statuses == [200] * count


def worker_pids(server: Gunicorn) -> set[int]:
    return {child.pid for child in psutil.Process(server.process.pid).children()}


def test_every_scrape_reports_the_whole_hosts_growing_histogram_even_after_a_worker_is_killed(gunicorn_server):
    server = gunicorn_server(workers=3, **ENV)
    requests = 90
    get_live(server, requests)
    served = counts_by_worker(server, LIVE)
    assert sum(served.values()) == requests
    assert len(served) >= 2, served  # several workers answered: no single process holds the whole count

    previous: dict[tuple, float] = {}
    for index in range(10):
        text, counts, samples = scrape(server)
        assert text.count(f"# HELP {HISTOGRAM} ") == 1 and text.count(f"# TYPE {HISTOGRAM} histogram") == 1
        assert counts[LIVE] == requests
        # A scrape is timed when it has answered, so each one sees exactly the scrapes before it, whoever served it.
        assert counts.get(METRICS, 0) == index
        assert samples[(HISTOGRAM + "_bucket", (("le", "+Inf"), ("method", "GET"), ("route", LIVE[0]),
                                                ("status_class", "2xx")))] == requests
        assert all(value >= previous.get(key, 0) for key, value in samples.items())  # nothing ever goes back
        assert set(previous) <= set(samples)
        previous = samples
    scrapers = counts_by_worker(server, METRICS)
    assert sum(scrapers.values()) == 10

    # kill -9 the worker that answered most liveness requests, as the kernel's OOM killer would; gunicorn replaces it
    victim = max(served, key=served.get)
    assert victim in worker_pids(server)
    os.kill(victim, signal.SIGKILL)
    wait_for(lambda: victim not in (pids := worker_pids(server)) and len(pids) == 3, timeout=30,
             what="gunicorn to replace the killed worker")
    wait_for(lambda: "Booting worker" in server.output().rsplit(f"(pid:{victim})", 1)[-1], timeout=30,
             what="the replacement worker to boot")

    _, counts, samples = scrape(server)
    assert counts[LIVE] == requests  # the dead worker's requests are still counted
    assert counts[METRICS] == 10
    assert all(value >= previous.get(key, 0) for key, value in samples.items())

    get_live(server, 12)
    _, counts, _ = scrape(server)
    assert counts[LIVE] == requests + 12
    assert server.stop() == 0, server.output()
    assert "Traceback" not in server.output()


def test_a_restart_starts_the_counts_from_zero(gunicorn_server, tmp_path):
    var_dir = tmp_path / "var"
    first = gunicorn_server(workers=2, var_dir=var_dir, **ENV)
    get_live(first, 5)
    assert scrape(first)[1][LIVE] == 5
    assert first.stop() == 0, first.output()
    assert list((var_dir / "prometheus").glob("*.db"))  # the stopped run's files stay until the next start

    second = gunicorn_server(workers=2, var_dir=var_dir, **ENV)
    _, counts, _ = scrape(second)
    assert LIVE not in counts and METRICS not in counts  # the previous run's files were removed at start
    get_live(second, 3)
    assert scrape(second)[1][LIVE] == 3


@pytest.mark.parametrize("kind", ["missing", "a file"])
def test_a_multiprocess_folder_that_is_not_a_folder_stops_gunicorn_with_a_clear_error(gunicorn_server, tmp_path,
                                                                                      kind):
    folder = tmp_path / "prometheus"
    if kind == "a file":
        folder.write_text("not a folder")
    server = gunicorn_server(wait=False, PROMETHEUS_MULTIPROC_DIR=str(folder), **ENV)
    assert server.process.wait(timeout=30) != 0
    assert f"PROMETHEUS_MULTIPROC_DIR={folder}: it is not an existing folder" in server.output()
    assert not folder.is_dir()


def test_an_empty_variable_leaves_a_single_process_as_it_is(tmp_path):
    """`PROMETHEUS_MULTIPROC_DIR=` from a copied .env.example: runserver and manage.py stay single-process (the mere
    name would switch prometheus-client to multiprocess mode, writing its files into the working directory)."""
    show = ("import json, os, django; django.setup(); from django.conf import settings; "
            "from prometheus_client import values; "
            "print(json.dumps([settings.PROMETHEUS_MULTIPROC_DIR, 'PROMETHEUS_MULTIPROC_DIR' in os.environ, "
            "values.ValueClass._multiprocess]))")
    (tmp_path / "secret_key").write_text("k" * 50)
    result = subprocess.run(
        [sys.executable, "-c", show], cwd=ROOT, capture_output=True, text=True, timeout=60,
        env=clean_env(tmp_path, DJANGO_SETTINGS_MODULE="opsportal.settings", PROMETHEUS_MULTIPROC_DIR=""),
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == [None, False, False]


def test_the_single_process_histogram_is_the_processs_own(client, aggregator):
    """Without the folder (runserver, this test process) the endpoint reports the process's own Histogram."""
    from django.test import override_settings

    from tests.monitoring.conftest import METRICS_TOKEN

    with override_settings(METRICS_TOKEN=METRICS_TOKEN):
        for _ in range(4):
            assert client.get("/api/system/health/live").status_code == 200
        first = client.get("/api/system/metrics", {"format": "prometheus"},
                           HTTP_AUTHORIZATION=f"Bearer {METRICS_TOKEN}").content.decode()
        second = client.get("/api/system/metrics", {"format": "prometheus"},
                            HTTP_AUTHORIZATION=f"Bearer {METRICS_TOKEN}").content.decode()
    for text, scrapes_before in ((first, 0), (second, 1)):
        families = {family.name: family for family in text_string_to_metric_families(text)}
        counts = {(s.labels["route"], s.labels["method"], s.labels["status_class"]): s.value
                  for s in families[HISTOGRAM].samples if s.name == HISTOGRAM + "_count"}
        assert counts[LIVE] == 4 and counts.get(METRICS, 0) == scrapes_before
        assert text.count(f"# TYPE {HISTOGRAM} histogram") == 1
        assert f"{HISTOGRAM}_created" not in text  # like the added-up files, which have none



def test_a_binary_upgrade_keeps_counting(gunicorn_server):
    """USR2 starts a new master (and workers) next to the old one, then the old one is stopped: a zero-downtime
    upgrade, so the counts go on instead of starting from zero."""
    old = gunicorn_server(workers=2, **ENV)
    get_live(old, 5)
    os.kill(old.process.pid, signal.SIGUSR2)

    def new_master() -> psutil.Process | None:
        masters = [child for child in psutil.Process(old.process.pid).children() if len(child.children()) == 2]
        return masters[0] if masters else None

    upgraded = wait_for(new_master, timeout=60, what="the new master and its two workers")
    try:
        assert scrape(old)[1][LIVE] == 5  # answered by an old or a new worker: the same
        assert old.stop() == 0, old.output()
        get_live(old, 3)  # the same address, now served by the new master's workers alone
        _, counts, _ = scrape(old)
        assert counts[LIVE] == 8 and counts[METRICS] == 1
    finally:
        upgraded.terminate()
        upgraded.wait(timeout=20)
    assert "Traceback" not in old.output()
