"""/api/system/metrics: who may read it, JSON by default, Prometheus text that prometheus-client itself parses."""

from __future__ import annotations

import logging

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.monitoring.conftest import HEALTH_TOKEN, METRICS_TOKEN

pytestmark = pytest.mark.django_db(transaction=True)

METRICS = "/api/system/metrics"
BEARER = {"HTTP_AUTHORIZATION": f"Bearer {METRICS_TOKEN}"}


@pytest.mark.security
@pytest.mark.parametrize(
    "headers",
    [{}, {"HTTP_AUTHORIZATION": "Bearer wrong"}, {"HTTP_AUTHORIZATION": f"Bearer {HEALTH_TOKEN}"},
     {"HTTP_AUTHORIZATION": f"Basic {METRICS_TOKEN}"}],
    ids=["anonymous", "wrong-token", "health-token", "not-bearer"],
)
def test_metrics_refuse_callers_without_the_token(client, headers):
    response = client.get(METRICS, **headers)
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.security
def test_a_non_staff_session_is_refused(user_client):
    assert user_client.get(METRICS).status_code == 401


@pytest.mark.security
def test_wrong_metrics_tokens_are_logged_without_the_token(client, caplog):
    with caplog.at_level(logging.WARNING, logger="monitoring.auth"):
        client.get(METRICS, HTTP_AUTHORIZATION="Bearer leaked-if-you-see-me")
    assert "/api/system/metrics" in caplog.text
    assert "leaked-if-you-see-me" not in caplog.text


def test_a_staff_session_reads_json(staff_client):
    body = staff_client.get(METRICS).json()
    names = {sample["name"] for sample in body["samples"]}
    assert {"health_check_status", "health_check_duration_seconds", "cpu_percent", "memory_used_percent",
            "load_average", "disk_used_percent", "database_size_bytes", "database_connections",
            "redis_used_memory_bytes", "celery_queue_length", "celery_workers_online",
            "docker_containers", "migrations_unapplied"} <= names
    disk = [sample for sample in body["samples"] if sample["name"] == "disk_used_percent"]
    assert {sample["labels"]["host"] for sample in disk} == {"web-test"}


def _families(text: str) -> dict:
    return {family.name: family for family in text_string_to_metric_families(text)}


@pytest.mark.parametrize("how", ["query", "accept"])
def test_prometheus_text_parses_with_prometheus_clients_parser(client, how):
    if how == "query":
        response = client.get(METRICS, {"format": "prometheus"}, **BEARER)
    else:
        response = client.get(METRICS, HTTP_ACCEPT="text/plain", **BEARER)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    families = _families(response.content.decode())
    status = families["opsportal_health_check_status"]
    by_check = {sample.labels["check"]: sample.value for sample in status.samples}
    assert by_check["database"] == 0
    assert by_check["celery"] == 2  # no worker in this test
    assert "opsportal_memory_used_percent" in families
    hosts = {sample.labels["host"] for sample in families["opsportal_disk_used_percent"].samples}
    assert hosts == {"web-test"}


def test_json_stays_the_default_for_browsers(client):
    response = client.get(METRICS, HTTP_ACCEPT="text/html,application/xhtml+xml,*/*", **BEARER)
    assert response["Content-Type"] == "application/json"


def test_request_latency_and_performance_budgets_are_in_both_formats(client):
    from performance.models import PerfTarget

    PerfTarget.objects.create(name="orders api", kind="api", url="/api/orders", budget_ms=1000, last_p95_ms=1500)
    client.get("/api/system/health/live")  # a timed request, so the latency histogram has a route
    families = _families(client.get(METRICS, {"format": "prometheus"}, **BEARER).content.decode())
    histogram = families["opsportal_http_request_duration_seconds"]
    bounds = {sample.labels.get("le") for sample in histogram.samples if sample.name.endswith("_bucket")}
    assert {"1.0", "3.0"} <= bounds  # the API and page budgets are bucket edges
    budgets = {s.labels["target"]: s.value for s in families["opsportal_perf_target_budget_seconds"].samples}
    assert budgets["orders api"] == 1.0

    body = client.get(METRICS, **BEARER).json()
    names = {sample["name"] for sample in body["samples"]}
    assert {"perf_target_p95_seconds", "perf_target_budget_seconds", "disk_used_percent"} <= names
