"""/api/system/health shares one run of the checks per HEALTH_CACHE_TTL: a probe storm runs the checks once."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from django.test import Client

from tests.counting_app.health import runs

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def counting_check(settings):
    # checks count only when their module belongs to an installed app, as any app's health.py does
    settings.INSTALLED_APPS = [*settings.INSTALLED_APPS, "tests.counting_app"]
    settings.MONITOR_DISABLED_CHECKS = ["docker", "celery", "redis", "cpu", "memory", "disk", "migrations", "backups"]
    runs["count"] = 0


def health(client) -> dict:
    return client.get("/api/system/health", HTTP_AUTHORIZATION="Bearer health-test-token").json()


def test_sixteen_concurrent_probes_share_one_run_of_the_checks(counting_check, settings, client):
    settings.HEALTH_TOKEN = "health-test-token"
    settings.HEALTH_CACHE_TTL = timedelta(seconds=30)

    with ThreadPoolExecutor(16) as pool:
        bodies = list(pool.map(lambda _: health(Client()), range(16)))
    assert runs["count"] == 1
    assert len({body["generated_at"] for body in bodies}) == 1
    assert all(any(check["name"] == "counting-test" for check in body["checks"]) for body in bodies)


def test_with_the_cache_off_every_probe_runs_the_checks(counting_check, settings, client):
    settings.HEALTH_TOKEN = "health-test-token"
    settings.HEALTH_CACHE_TTL = timedelta(0)
    health(client)
    health(client)
    assert runs["count"] == 2


def test_an_expired_report_is_refreshed_by_one_caller(counting_check, settings, client):
    settings.HEALTH_TOKEN = "health-test-token"
    settings.HEALTH_CACHE_TTL = timedelta(milliseconds=200)
    first = health(client)["generated_at"]
    assert health(client)["generated_at"] == first
    time.sleep(0.3)
    with ThreadPoolExecutor(8) as pool:
        bodies = list(pool.map(lambda _: health(Client()), range(8)))
    assert runs["count"] == 2  # the first run, and exactly one refresh for eight callers
    assert {body["generated_at"] for body in bodies} <= {first, max(body["generated_at"] for body in bodies)}
