"""Page-load probes in real Chromium (Debian's, through Playwright) against pages of the live portal."""

from __future__ import annotations

import logging

import pytest
from django.contrib.auth import get_user_model

from performance.credentials import encrypt_password
from performance.models import PerfResult
from performance.services import perf_target_probe

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_page_load_records_navigation_timing_and_lcp(portal, make_target):
    target = make_target(name="test page", kind="page", url_name="perf-test-page", samples=2)

    perf_target_probe(target_id=target.pk)

    results = list(PerfResult.objects.filter(target=target))
    assert len(results) == 2
    for result in results:
        assert result.outcome == PerfResult.Outcome.OK, result.error
        assert result.http_status == 200
        assert 0 < result.ttfb_ms <= result.dom_content_loaded_ms <= result.load_ms
        assert result.duration_ms == result.load_ms
        assert result.lcp_ms is not None and result.lcp_ms > 0  # the page paints a heading and a paragraph
    target.refresh_from_db()
    assert target.budget_ms == 3000  # the page default
    assert target.breached_since is None


@pytest.fixture
def service_user(db):
    return get_user_model().objects.create_user("perf-probe", password="probe-Secret-9f2c", is_staff=True)


def test_a_page_behind_login_is_loaded_after_logging_in_through_the_admin_form(portal, make_target, service_user):
    target = make_target(
        name="members page",
        kind="page",
        url="/perf-test/members/",
        samples=1,
        login_username="perf-probe",
        login_password_encrypted=encrypt_password("probe-Secret-9f2c"),
    )

    perf_target_probe(target_id=target.pk)

    result = PerfResult.objects.get(target=target)
    assert result.outcome == PerfResult.Outcome.OK, result.error
    assert result.http_status == 200


def test_without_credentials_the_same_page_is_refused(portal, make_target):
    target = make_target(name="members page, anonymous", kind="page", url="/perf-test/members/", samples=1)

    perf_target_probe(target_id=target.pk)

    result = PerfResult.objects.get(target=target)
    assert result.outcome == PerfResult.Outcome.FAILED
    assert result.http_status == 403


@pytest.mark.security
def test_a_wrong_password_fails_the_login_without_revealing_it(portal, make_target, service_user, caplog):
    target = make_target(
        name="members page, wrong password",
        kind="page",
        url="/perf-test/members/",
        samples=1,
        login_username="perf-probe",
        login_password_encrypted=encrypt_password("not-the-password-7731"),
    )

    with caplog.at_level(logging.DEBUG):
        perf_target_probe(target_id=target.pk)

    result = PerfResult.objects.get(target=target)
    assert result.outcome == PerfResult.Outcome.FAILED
    assert "login failed" in result.error and "perf-probe" in result.error
    assert "not-the-password-7731" not in result.error
    assert "not-the-password-7731" not in caplog.text


def test_a_missing_chromium_says_browser_unavailable(portal, make_target, settings):
    settings.PERF_CHROMIUM_PATH = "/nonexistent/chromium"
    target = make_target(name="no browser", kind="page", url_name="perf-test-page", samples=3)

    perf_target_probe(target_id=target.pk)

    result = PerfResult.objects.get(target=target)
    assert result.outcome == PerfResult.Outcome.UNAVAILABLE
    assert result.error == "browser unavailable: no Chromium at /nonexistent/chromium"
    assert result.duration_ms is None


def test_a_chromium_that_cannot_start_says_browser_unavailable(portal, make_target, settings, tmp_path):
    broken = tmp_path / "chromium"
    broken.write_text("#!/bin/sh\necho 'this is not a browser' >&2\nexit 1\n")
    broken.chmod(0o755)
    settings.PERF_CHROMIUM_PATH = str(broken)
    settings.PERF_PROBE_TIMEOUT = __import__("datetime").timedelta(seconds=10)
    target = make_target(name="broken browser", kind="page", url_name="perf-test-page", samples=1)

    perf_target_probe(target_id=target.pk)

    result = PerfResult.objects.get(target=target)
    assert result.outcome == PerfResult.Outcome.UNAVAILABLE
    assert result.error.startswith("browser unavailable: ")
