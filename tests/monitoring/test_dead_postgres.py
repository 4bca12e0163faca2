"""A PostgreSQL that dies mid-test: a throwaway cluster of our own, stopped while the portal runs against it."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import httpx
import pytest

from tests.monitoring.conftest import HEALTH_TOKEN, ROOT

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
