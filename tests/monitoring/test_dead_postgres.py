"""A PostgreSQL that dies mid-test: a throwaway cluster of our own, stopped while the portal runs against it."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import httpx
import pytest

from tests.monitoring.conftest import HEALTH_TOKEN, METRICS_TOKEN, ROOT

pytestmark = pytest.mark.faults

# The throwaway database has no portal tables; these checks would only report that.
ONLY_CONNECTIVITY = {"MONITOR_DISABLED_CHECKS": "celery,backups,migrations", "MONITOR_DOCKER_URL": ""}


def test_health_endpoint_turns_503_naming_the_database_within_the_deadline(throwaway_postgres, portal_server):
    base = portal_server(TEST_DATABASE_URL=throwaway_postgres.url, HEALTH_DEADLINE="3s", **ONLY_CONNECTIVITY)
    headers = {"Authorization": f"Bearer {HEALTH_TOKEN}"}
    healthy = httpx.get(f"{base}/api/system/health", headers=headers, timeout=10)
    assert healthy.status_code == 200, healthy.text
    assert {check["name"]: check["status"] for check in healthy.json()["checks"]}["database"] == "ok"

    throwaway_postgres.stop()
    started = time.monotonic()
    dead = httpx.get(f"{base}/api/system/health", headers=headers, timeout=10)
    took = time.monotonic() - started
    assert took < 3.5  # the deadline, plus the HTTP round trip
    assert dead.status_code == 503
    failing = {check["name"]: check["message"] for check in dead.json()["checks"] if check["status"] == "critical"}
    assert list(failing) == ["database"]
    assert "connect" in failing["database"].lower()
    # anonymous callers learn only that something is critical
    assert httpx.get(f"{base}/api/system/health", timeout=10).json() == {"status": "critical"}
    ready = httpx.get(f"{base}/api/system/health/ready", timeout=10)
    assert ready.status_code == 503 and ready.json()["checks"]["database"] == "critical"



def test_metrics_answer_503_not_an_error_page_once_the_database_is_gone(throwaway_postgres, portal_server):
    # The performance targets' gauges are read from the database, on the checks' database pool (monitoring/pool.py).
    import os

    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings", "TEST_DATABASE_URL": throwaway_postgres.url}
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, env=env, check=True,
                   capture_output=True, timeout=180)
    base = portal_server(TEST_DATABASE_URL=throwaway_postgres.url, **ONLY_CONNECTIVITY)
    headers = {"Authorization": f"Bearer {METRICS_TOKEN}"}
    alive = httpx.get(f"{base}/api/system/metrics", params={"format": "prometheus"}, headers=headers, timeout=10)
    assert alive.status_code == 200 and "opsportal_perf_target_budget_seconds" in alive.text

    throwaway_postgres.stop()
    for params in ({"format": "prometheus"}, {}):
        response = httpx.get(f"{base}/api/system/metrics", params=params, headers=headers, timeout=10)
        assert response.status_code == 503, response.text
        assert response.json()["status"] == "unavailable"


def test_monitor_command_exits_2_once_the_database_is_gone(throwaway_postgres):
    env = {"DJANGO_SETTINGS_MODULE": "tests.settings", "TEST_DATABASE_URL": throwaway_postgres.url,
           **ONLY_CONNECTIVITY}

    def monitor() -> subprocess.CompletedProcess:
        import os

        return subprocess.run([sys.executable, "manage.py", "monitor", "--json", "--local", "--check", "database"],
                              cwd=ROOT, env={**os.environ, **env}, capture_output=True, text=True, timeout=60)

    alive = monitor()
    assert alive.returncode == 0, alive.stdout + alive.stderr
    throwaway_postgres.stop()
    dead = monitor()
    assert dead.returncode == 2
    body = json.loads(dead.stdout)
    assert body["status"] == "critical"
    assert body["checks"][0]["name"] == "database" and body["checks"][0]["status"] == "critical"
