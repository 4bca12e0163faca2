from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import free_port, wait_for

HEALTH_TOKEN = "health-token-for-tests-0123456789abcdef"
METRICS_TOKEN = "metrics-token-for-tests-0123456789abcdef"


@pytest.fixture(autouse=True)
def monitoring_settings(settings, tmp_path):
    from monitoring.runner import clear_cached_results

    clear_cached_results()  # docker and migrations results are kept a few seconds; each test starts fresh
    settings.HEALTH_TOKEN = HEALTH_TOKEN
    settings.METRICS_TOKEN = METRICS_TOKEN
    settings.MONITOR_HOSTNAME = "web-test"
    settings.MONITOR_DISK_PATHS = ["/", str(tmp_path)]
    return settings


@pytest.fixture(autouse=True)
def checks_close_their_connections(monkeypatch):
    """Health-check threads keep a connection only for CONN_MAX_AGE; at 0 they close it after every check, so
    these tests can count connections and pytest-django can drop the test database at the end."""
    from django.db import connection

    monkeypatch.setitem(connection.settings_dict, "CONN_MAX_AGE", 0)


@pytest.fixture
def dead_redis_url() -> str:
    return f"redis://127.0.0.1:{free_port()}/0"


@pytest.fixture
def staff_client(client, django_user_model):
    user = django_user_model.objects.create_user("staff", password="pw", is_staff=True)
    client.force_login(user)
    return client


@pytest.fixture
def user_client(client, django_user_model):
    user = django_user_model.objects.create_user("plain", password="pw", is_staff=False)
    client.force_login(user)
    return client


ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def portal_server() -> Iterator:
    """Start the portal under gunicorn with the given environment; yield a starter returning its base URL."""
    processes: list[subprocess.Popen] = []

    def start(**env: str) -> str:
        port = free_port()
        full_env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "tests.settings",
            "HEALTH_TOKEN": HEALTH_TOKEN,
            "METRICS_TOKEN": METRICS_TOKEN,
            **env,
        }
        process = subprocess.Popen(
            [str(ROOT / ".venv/bin/gunicorn"), "opsportal.wsgi", "--bind", f"127.0.0.1:{port}", "--workers", "1",
             "--threads", "4", "--timeout", "30"],
            cwd=ROOT, env=full_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        processes.append(process)
        base = f"http://127.0.0.1:{port}"

        def answering() -> bool:
            with socket.socket() as probe:
                return probe.connect_ex(("127.0.0.1", port)) == 0

        wait_for(answering, timeout=30, what="gunicorn to listen")
        return base

    yield start
    for process in processes:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def elapsed(started: float) -> float:
    return time.monotonic() - started


# The backups fixtures, for the checks that read real backups (test_backup_freshness.py).
from tests.backups.conftest import backup_dir, run_backup  # noqa: E402, F401
