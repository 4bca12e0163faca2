"""A module adds its own check and metric with one file, health.py, discovered once its app is installed."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from prometheus_client.parser import text_string_to_metric_families

from monitoring import registry
from tests.conftest import test_database_env
from tests.monitoring.conftest import HEALTH_TOKEN, METRICS_TOKEN, ROOT

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def demo_installed(settings):
    settings.INSTALLED_APPS = [*settings.INSTALLED_APPS, "tests.demo_module"]
    settings.MONITOR_DISABLED_CHECKS = ["celery"]
    return settings


def test_the_check_is_absent_until_the_module_is_installed():
    assert "demo-orders" not in registry.check_classes()


def test_the_modules_check_shows_in_health(client, demo_installed):
    demo_installed.DEMO_ORDER_BACKLOG = 250
    body = client.get("/api/system/health", HTTP_AUTHORIZATION=f"Bearer {HEALTH_TOKEN}").json()
    demo = next(check for check in body["checks"] if check["name"] == "demo-orders")
    assert demo["status"] == "warning" and demo["values"] == {"backlog": 250}


def test_the_modules_metric_shows_in_prometheus_output(client, demo_installed):
    demo_installed.DEMO_ORDER_BACKLOG = 7
    response = client.get("/api/system/metrics?format=prometheus", HTTP_AUTHORIZATION=f"Bearer {METRICS_TOKEN}")
    families = {family.name: family for family in text_string_to_metric_families(response.content.decode())}
    [sample] = families["opsportal_demo_order_backlog"].samples
    assert sample.value == 7 and sample.labels == {"module": "demo"}


@pytest.mark.django_db(transaction=True)
def test_installed_through_extra_apps_like_a_real_deployment():
    env = test_database_env(EXTRA_APPS="tests.demo_module")
    done = subprocess.run([sys.executable, "manage.py", "monitor", "--json", "--check", "demo-orders"], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["checks"][0]["message"] == "0 orders waiting"
