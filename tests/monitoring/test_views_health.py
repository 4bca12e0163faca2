"""/api/system/health/live, /health/ready and /health: statuses, HTTP codes and who sees the details."""

from __future__ import annotations

import logging
import time

import pytest

from tests.monitoring.conftest import HEALTH_TOKEN

pytestmark = pytest.mark.django_db(transaction=True)

HEALTH = "/api/system/health"
BEARER = {"HTTP_AUTHORIZATION": f"Bearer {HEALTH_TOKEN}"}


@pytest.fixture
def without_celery(settings):
    # No worker runs in these tests: leave the celery check out so the rest decides the status.
    settings.MONITOR_DISABLED_CHECKS = ["celery"]


def test_live_is_ok_without_any_dependency(client, settings, dead_redis_url):
    settings.CELERY_BROKER_URL = dead_redis_url
    response = client.get("/api/system/health/live")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


def test_ready_checks_database_and_broker_only(client):
    response = client.get("/api/system/health/ready")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"database": "ok", "redis:broker": "ok"}}


@pytest.mark.faults
def test_ready_is_503_when_the_broker_is_down(client, settings, dead_redis_url):
    settings.CELERY_BROKER_URL = dead_redis_url
    response = client.get("/api/system/health/ready")
    assert response.status_code == 503
    assert response.json()["checks"]["redis:broker"] == "critical"


@pytest.mark.security
def test_anonymous_gets_only_the_overall_status(client, without_celery):
    response = client.get(HEALTH)
    # no backup yet is a warning: still 200
    assert response.status_code == 200
    assert response.json() == {"status": "warning"}


@pytest.mark.security
def test_a_non_staff_session_is_anonymous(user_client, without_celery):
    assert user_client.get(HEALTH).json() == {"status": "warning"}


def test_a_staff_session_gets_every_check(staff_client, without_celery):
    body = staff_client.get(HEALTH).json()
    checks = {check["name"]: check for check in body["checks"]}
    assert {"database", "redis:broker", "disk", "memory", "cpu", "docker", "migrations", "backups"} <= set(checks)
    assert "celery" not in checks
    assert checks["backups"]["status"] == "warning"
    assert checks["disk"]["host"] == "web-test"
    assert set(checks["database"]) >= {"status", "message", "duration_ms", "values", "critical"}


@pytest.mark.security
def test_the_health_token_gets_every_check(client, without_celery):
    body = client.get(HEALTH, **BEARER).json()
    assert body["status"] == "warning"
    assert len(body["checks"]) >= 8


@pytest.mark.security
def test_a_wrong_token_is_401_and_logged_without_the_token(client, caplog):
    with caplog.at_level(logging.WARNING, logger="monitoring.auth"):
        response = client.get(HEALTH, HTTP_AUTHORIZATION="Bearer not-the-token-s3cr3t")
    assert response.status_code == 401
    assert "rejected bearer token" in caplog.text
    assert "not-the-token-s3cr3t" not in caplog.text


@pytest.mark.security
def test_no_token_configured_means_no_token_is_accepted(client, settings, without_celery):
    settings.HEALTH_TOKEN = ""
    # an empty bearer presents no token at all: anonymous
    assert client.get(HEALTH, HTTP_AUTHORIZATION="Bearer ").json() == {"status": "warning"}
    assert client.get(HEALTH, HTTP_AUTHORIZATION="Bearer anything").status_code == 401


def test_a_critical_check_makes_it_503(client):
    # celery is enabled and no worker runs: critical
    response = client.get(HEALTH, **BEARER)
    assert response.status_code == 503
    assert {check["name"]: check["status"] for check in response.json()["checks"]}["celery"] == "critical"
    assert client.get(HEALTH).json() == {"status": "critical"}


@pytest.mark.faults
def test_a_dead_redis_is_503_naming_it_within_the_deadline(client, settings, dead_redis_url, without_celery):
    settings.CELERY_BROKER_URL = dead_redis_url
    started = time.monotonic()
    response = client.get(HEALTH, **BEARER)
    assert time.monotonic() - started < settings.HEALTH_DEADLINE.total_seconds()
    assert response.status_code == 503
    failing = [check["name"] for check in response.json()["checks"] if check["status"] == "critical"]
    assert failing == ["redis:broker"]


@pytest.mark.faults
def test_a_missing_docker_socket_is_503_naming_it(client, settings, tmp_path, without_celery):
    settings.MONITOR_DOCKER_URL = f"unix://{tmp_path}/no-such.sock"
    response = client.get(HEALTH, **BEARER)
    assert response.status_code == 503
    failing = [check["name"] for check in response.json()["checks"] if check["status"] == "critical"]
    assert failing == ["docker"]


@pytest.mark.security
def test_post_is_not_allowed(client):
    assert client.post(HEALTH).status_code == 405
