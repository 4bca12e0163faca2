"""schemathesis reads docs/api/openapi.yaml and throws generated requests (valid and invalid query values, garbage
bearer tokens and session cookies, undocumented methods) at the real portal through its WSGI application: every
answer must be one the document promises (status code, content type, headers, JSON shape), never a 500. Half of
the cases carry the real token, so the detailed answers are checked too. The checks reach the real test database
and Redis; celery and docker are left out (no worker or engine is part of these tests), except in the run that
must see the 503."""

from __future__ import annotations

import functools
from pathlib import Path

import pytest
import schemathesis
from django.core.wsgi import get_wsgi_application
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    ignored_auth,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
    unsupported_method,
)

from tests.monitoring.conftest import HEALTH_TOKEN, METRICS_TOKEN

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.security]

SPEC = Path(__file__).resolve().parents[2] / "docs" / "api" / "openapi.yaml"


@functools.cache
def _portal():
    return get_wsgi_application()


def portal(environ, start_response):
    """The portal's own WSGI application, in this process, so requests (and schemathesis' probes) reach the test
    database. Built at the first request, inside the test environment pytest-django sets up (as the test client's
    handler is), not while this module is imported."""
    return _portal()(environ, start_response)


schema = schemathesis.openapi.from_path(SPEC)
schema.app = portal
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_headers_conformance,
          response_schema_conformance, negative_data_rejection, ignored_auth, unsupported_method]
FUZZ = settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
TOKENS = {"/health": HEALTH_TOKEN, "/metrics": METRICS_TOKEN}


@pytest.fixture(autouse=True)
def tokens(settings):
    from monitoring.runner import clear_cached_results

    clear_cached_results()
    settings.HEALTH_TOKEN = HEALTH_TOKEN
    settings.METRICS_TOKEN = METRICS_TOKEN


@pytest.fixture
def no_worker_no_engine(settings):
    settings.MONITOR_DISABLED_CHECKS = ["celery", "docker"]


@schema.parametrize()
@schema.given(real_token=st.booleans())
@FUZZ
def test_every_answer_is_one_the_openapi_document_promises(case, real_token, no_worker_no_engine):
    # The real token as explicit auth: schemathesis then also probes the same request without it and with a wrong one.
    headers = {"Authorization": f"Bearer {TOKENS[case.path]}"} if real_token and case.path in TOKENS else None
    case.call_and_validate(headers=headers, checks=CHECKS)


def test_a_critical_check_is_a_documented_503(client):
    # celery stays enabled and no worker runs: critical
    operation = schema["/health"]["GET"]
    for headers in ({}, {"Authorization": f"Bearer {HEALTH_TOKEN}"}):
        case = operation.Case(headers=headers)
        # a 503 is this endpoint's documented answer, not a server error: every other check still applies
        response = case.call_and_validate(checks=CHECKS, excluded_checks=[not_a_server_error])
        assert response.status_code == 503
    assert client.get("/api/system/health").status_code == 503


def test_the_document_names_every_route_of_the_system_api():
    from django.urls import get_resolver

    routes = {str(pattern.pattern) for pattern in get_resolver().url_patterns}
    assert "api/system/" in routes
    from monitoring.urls import urlpatterns

    documented = set(schema.raw_schema["paths"])
    assert {"/" + str(pattern.pattern) for pattern in urlpatterns} == documented


def test_an_unknown_metrics_format_is_400_after_the_token_check(client):
    bearer = {"HTTP_AUTHORIZATION": f"Bearer {METRICS_TOKEN}"}
    refused = client.get("/api/system/metrics", {"format": "openmetrics"}, **bearer)
    assert refused.status_code == 400
    assert refused.json()["error"] == "format must be one of: json, prometheus"
    assert client.get("/api/system/metrics", {"format": ""}, **bearer).status_code == 400
    # no access: 401 first, nothing said about the format
    assert client.get("/api/system/metrics", {"format": "openmetrics"}).status_code == 401
    assert client.get("/api/system/metrics", {"format": "json"}, **bearer)["Content-Type"] == "application/json"
