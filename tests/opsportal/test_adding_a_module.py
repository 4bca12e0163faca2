"""A new module gets backups, monitoring, its own pages, performance probes and alert rules without any change to
the core (see docs/guides/adding-a-module.md): tests/demo_module is installed the way a deployment installs an app,
through EXTRA_APPS, in real subprocesses and a real gunicorn on the test database."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import httpx
import psycopg
import pytest
from django.contrib.auth.models import User

from alerting.models import Alert, AlertRule
from performance.models import PerfTarget
from tests.alerting.test_admin import rule_form
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


def _log_in(session: httpx.Client) -> None:
    page = session.get("/admin/login/")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    session.post("/admin/login/?next=/admin/", data={"csrfmiddlewaretoken": token, "username": "root",
                                                     "password": "pw", "next": "/admin/"})


def _add_rule(session: httpx.Client, **fields: str) -> httpx.Response:
    form = session.get("/admin/alerting/alertrule/add/")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.text).group(1)
    return session.post("/admin/alerting/alertrule/add/", data={**rule_form(**fields), "csrfmiddlewaretoken": token},
                        headers={"Referer": f"{session.base_url}admin/alerting/alertrule/add/"})


def test_a_modules_pages_targets_and_alert_observations_need_no_line_in_the_core(demo_env, portal_server):  # noqa: F811
    _manage(demo_env, "migrate", "--noinput")
    with psycopg.connect(current_db_url(), autocommit=True) as conn:
        conn.execute("INSERT INTO demo_module_shipment (reference, shipped) VALUES ('B1', false), ('B2', false), "
                     "('B3', true)")
    base = portal_server(TEST_DATABASE_URL=current_db_url(), EXTRA_APPS="tests.demo_module",
                         MONITOR_DISABLED_CHECKS="celery,docker")

    # Its urls.py is mounted at /<app_label>/ by discovery: its page and its API answer.
    board = httpx.get(f"{base}/demo_module/board/", timeout=30)
    assert board.status_code == 200 and "2 of 3 shipments waiting" in board.text
    assert httpx.get(f"{base}/demo_module/api/shipments/", timeout=30).json() == {"shipments": 3, "waiting": 2}

    # Its perf.py targets on its own pages (one by URL name) probe green.
    assert PerfTarget.objects.get(name="demo: shipments API").url_name == "demo_module:api-shipments"
    probed = json.loads(_manage({**demo_env, "PERF_BASE_URL": base}, "perfcheck", "--target", "demo: shipments API",
                                "--target", "demo: shipments board", "--json"))
    assert {(t["target"], t["failures"]) for t in probed["targets"]} == {("demo: shipments API", 0),
                                                                       ("demo: shipments board", 0)}

    # Its alerting.py observation: an alert rule on it is accepted by the admin and fires on its data.
    User.objects.create_superuser("root", "root@example.com", "pw")
    with httpx.Client(base_url=base, timeout=30) as session:
        _log_in(session)
        accepted = _add_rule(session, name="shipments waiting", metric_name="demo_shipments_waiting",
                             comparator="gt", threshold="1", for_duration="00:00:00")
    assert accepted.status_code == 302, accepted.text[:2000]
    rule = AlertRule.objects.get(name="shipments waiting")
    _manage(demo_env, "shell", "-c", "from alerting.tasks import evaluate; evaluate()")
    alert = Alert.objects.get(rule=rule)
    assert (alert.state, alert.labels, alert.last_value) == ("firing", {"module": "demo"}, 2.0)
