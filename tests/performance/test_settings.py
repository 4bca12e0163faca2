"""The Performance settings load from the environment and fail loudly, naming the variable."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from django.core.exceptions import MiddlewareNotUsed
from django.http import HttpResponse

from performance.middleware import RequestTimingMiddleware
from tests.opsportal.embedded import ROOT, clean_env

SHOW = (
    "import json, django; django.setup(); from django.conf import settings as s; "
    "print(json.dumps({'base': s.PERF_BASE_URL, 'interval': s.PERF_PROBE_INTERVAL.total_seconds(), "
    "'chromium': s.PERF_CHROMIUM_PATH, 'timing': s.PERF_REQUEST_TIMING, "
    "'second_middleware': s.MIDDLEWARE[1]}))"
)


def load(tmp_path, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", SHOW],
        cwd=ROOT,
        env=clean_env(tmp_path, DJANGO_SETTINGS_MODULE="opsportal.settings", SECRET_KEY="k" * 50, **env),
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_defaults_follow_the_portal_url(tmp_path):
    result = load(tmp_path, PORTAL_URL="https://ops.example.com/")
    assert result.returncode == 0, result.stderr
    loaded = json.loads(result.stdout)
    assert loaded == {
        "base": "https://ops.example.com",
        "interval": 300.0,
        "chromium": "/usr/bin/chromium",
        "timing": True,
        "second_middleware": "performance.middleware.RequestTimingMiddleware",
    }


def test_probes_can_reach_the_portal_at_another_address(tmp_path):
    result = load(tmp_path, PERF_BASE_URL="http://10.0.0.5:8000/", PERF_PROBE_INTERVAL="2m")
    loaded = json.loads(result.stdout)
    assert (loaded["base"], loaded["interval"]) == ("http://10.0.0.5:8000", 120.0)


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("PERF_BASE_URL", "ops.example.com", "PERF_BASE_URL must start with http:// or https://"),
        ("PERF_PROBE_INTERVAL", "often", "PERF_PROBE_INTERVAL must be a duration"),
        ("PERF_BUDGET_WINDOW", "0s", "PERF_BUDGET_WINDOW must be longer than zero"),
        ("PERF_REQUEST_TIMING", "maybe", "PERF_REQUEST_TIMING must be true or false"),
    ],
)
def test_bad_values_name_the_variable(tmp_path, variable, value, message):
    result = load(tmp_path, **{variable: value})
    assert result.returncode != 0
    assert message in result.stderr


def test_request_timing_can_be_switched_off(settings):
    settings.PERF_REQUEST_TIMING = False
    with pytest.raises(MiddlewareNotUsed):
        RequestTimingMiddleware(lambda request: HttpResponse())
