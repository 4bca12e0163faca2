"""A new module gets backups, monitoring and performance probes without any change to the core (see
docs/guides/adding-a-module.md): tests/demo_module is installed the way a deployment installs an app, through
EXTRA_APPS, in real subprocesses and a real gunicorn on the test database."""

from __future__ import annotations

import json
import subprocess
import sys

import httpx
import psycopg
import pytest

from performance.models import PerfTarget
from tests.backups.conftest import current_db_url
from tests.conftest import test_database_env as database_env  # aliased: pytest would collect test_*
from tests.monitoring.conftest import HEALTH_TOKEN, ROOT, portal_server  # noqa: F401

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def demo_env(tmp_path):
    env = database_env(EXTRA_APPS="tests.demo_module", BACKUP_DIR=str(tmp_path / "backups"), BACKUP_FILES="",
                            BACKUP_DOCKER_VOLUMES="", MONITOR_DISABLED_CHECKS="celery,docker")
    yield env
    with psycopg.connect(current_db_url(), autocommit=True) as conn:  # the module leaves nothing behind
        conn.execute("DROP TABLE IF EXISTS demo_module_shipment")
        conn.execute("DELETE FROM django_migrations WHERE app = 'demo_module'")


def _manage(env: dict, *args: str) -> str:
    done = subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_an_installed_module_is_backed_up_monitored_and_probed(demo_env, tmp_path, portal_server):  # noqa: F811
    # Installing: its migration creates its table; post_migrate syncs the targets its perf.py declares.
    _manage(demo_env, "migrate", "--noinput")
    assert PerfTarget.objects.filter(name="demo: shipments liveness", budget_ms=800).exists()

    with psycopg.connect(current_db_url(), autocommit=True) as conn:
        conn.execute("INSERT INTO demo_module_shipment (reference, shipped) VALUES ('A1', true), ('A2', false), "
                     "('A3', false)")

    # Backed up: the whole database is dumped, so the module's table is in the run's row counts.
    run = json.loads(_manage(demo_env, "backup", "--json"))
    assert run["status"] == "succeeded", run["error"]
    manifest = json.loads((tmp_path / "backups" / run["storage_prefix"] / "manifest.json").read_text())
    (database,) = [a for a in manifest["artifacts"] if a["kind"] == "database"]
    assert database["metadata"]["row_counts"]["public.demo_module_shipment"] == 3

    # Monitored: its health.py check is among the details of /api/system/health.
    base = portal_server(TEST_DATABASE_URL=current_db_url(), EXTRA_APPS="tests.demo_module",
                         MONITOR_DISABLED_CHECKS="celery,docker")
    body = httpx.get(f"{base}/api/system/health", headers={"Authorization": f"Bearer {HEALTH_TOKEN}"},
                     timeout=30).json()
    demo = next(check for check in body["checks"] if check["name"] == "demo-orders")
    assert demo["status"] == "ok" and demo["message"] == "0 orders waiting"

    # Probed: perfcheck measures the module's target like any other.
    probed = json.loads(_manage({**demo_env, "PERF_BASE_URL": base}, "perfcheck", "--target",
                                "demo: shipments liveness", "--samples", "2", "--json"))
    (target,) = probed["targets"]
    assert target["target"] == "demo: shipments liveness" and target["failures"] == 0
