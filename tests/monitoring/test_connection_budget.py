"""Health, metrics and readiness probes under load never fill PostgreSQL's max_connections.

The portal runs under real gunicorn as the Procfile starts it (production settings, so CONN_MAX_AGE is its default
60 s), 2 workers x 8 threads, HEALTH_CACHE_TTL=0s (every request runs every check), against a throwaway cluster
with max_connections=20. 64 clients load the three endpoints for ~10 s while a superuser connection, opened before
the load, samples pg_stat_activity. Before the fix, each of the up to 64 check threads per process kept its own
connection: "too many clients", and most answers were error pages.
"""

from __future__ import annotations

import collections
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import httpx
import psycopg
import pytest

from tests.monitoring.conftest import HEALTH_TOKEN, METRICS_TOKEN, ROOT
from tests.pg_cluster import ThrowawayPostgres, throwaway_cluster

pytestmark = pytest.mark.faults

MAX_CONNECTIONS = 20
WORKERS = 2
THREADS = 8
MONITOR_DB_CONNECTIONS = 2
# Per web process: the checks' own connections, plus the host-report loop and the request-timing flusher, which
# each hold one only while they write (docs/guides/monitoring.md, "Database connections").
PER_PROCESS = MONITOR_DB_CONNECTIONS + 2
CLIENTS = 64
LOAD_SECONDS = 10.0
MAX_REQUESTS_PER_CLIENT = 300
ENDPOINTS = [
    ("/api/system/health", HEALTH_TOKEN),
    ("/api/system/metrics?format=prometheus", METRICS_TOKEN),
    ("/api/system/health/ready", ""),
]


@pytest.fixture
def small_cluster() -> Iterator[ThrowawayPostgres]:
    with throwaway_cluster(server_options=f"-c max_connections={MAX_CONNECTIONS}") as cluster:
        yield cluster


def _migrate(url: str) -> None:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings", "TEST_DATABASE_URL": url}
    done = subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stdout + done.stderr


class ConnectionSampler:
    """Counts the cluster's client connections (other than its own) every 20 ms, on a connection opened up front."""

    def __init__(self, url: str) -> None:
        self.connection = psycopg.connect(url, autocommit=True)
        self.peak = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self.stop.wait(0.02):
            (count,) = self.connection.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'"
                " AND pid <> pg_backend_pid()").fetchone()
            self.peak = max(self.peak, count)

    def __enter__(self) -> ConnectionSampler:
        self.thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop.set()
        self.thread.join(timeout=5)
        self.connection.close()


def _load(base: str) -> collections.Counter:
    """CLIENTS keep-alive clients, each on one endpoint, for LOAD_SECONDS (and at most MAX_REQUESTS_PER_CLIENT)."""
    outcomes: collections.Counter = collections.Counter()
    lock = threading.Lock()
    end = time.monotonic() + LOAD_SECONDS

    def client(index: int) -> None:
        path, token = ENDPOINTS[index % len(ENDPOINTS)]
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        seen: collections.Counter = collections.Counter()
        with httpx.Client(base_url=base, headers=headers, timeout=30) as session:
            for _ in range(MAX_REQUESTS_PER_CLIENT):
                if time.monotonic() >= end:
                    break
                try:
                    seen[(path, session.get(path).status_code)] += 1
                except httpx.HTTPError as exc:
                    seen[(path, type(exc).__name__)] += 1
        with lock:
            outcomes.update(seen)

    threads = [threading.Thread(target=client, args=(index,)) for index in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=LOAD_SECONDS + 60)
    return outcomes


def test_health_metrics_and_probes_under_load_hold_a_fixed_number_of_connections(small_cluster, gunicorn_server):
    _migrate(small_cluster.url)
    with ConnectionSampler(small_cluster.url) as sampler:
        server = gunicorn_server(
            workers=WORKERS, DJANGO_SETTINGS_MODULE="opsportal.settings", DATABASE_URL=small_cluster.url,
            GUNICORN_CMD_ARGS=f"--threads {THREADS}", HEALTH_CACHE_TTL="0s",
            MONITOR_DB_CONNECTIONS=str(MONITOR_DB_CONNECTIONS), HEALTH_TOKEN=HEALTH_TOKEN,
            METRICS_TOKEN=METRICS_TOKEN, MONITOR_DOCKER_URL="", LOG_LEVEL="WARNING",
        )
        outcomes = _load(server.url)
    answered = sum(count for (_path, outcome), count in outcomes.items() if outcome in (200, 503))
    print(f"outcomes {dict(outcomes)}; peak client connections {sampler.peak} of {MAX_CONNECTIONS}")
    assert answered > 100, outcomes  # the load really ran
    assert {outcome for _path, outcome in outcomes} <= {200, 503}, f"{dict(outcomes)}\n{server.output()[-3000:]}"
    assert "too many clients" not in server.output()
    assert sampler.peak <= WORKERS * PER_PROCESS, f"peak {sampler.peak} client connections"
    assert sampler.peak < MAX_CONNECTIONS - 5
