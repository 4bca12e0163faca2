"""`manage.py perfcheck`: probes now, prints p50/p95 against the budget, exits non-zero on a breach."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from django.core.management import call_command

from performance.models import PerfResult
from tests.conftest import ROOT, test_database_env

pytestmark = pytest.mark.django_db(transaction=True)


def run_perfcheck(*args: str) -> tuple[int, str]:
    from io import StringIO

    out = StringIO()
    try:
        call_command("perfcheck", *args, stdout=out)
    except SystemExit as exit_:
        return int(exit_.code), out.getvalue()
    return 0, out.getvalue()


def test_targets_within_budget_pass_with_a_table(portal, make_target):
    make_target(name="fast api", url="/api/system/health/live", budget_ms=1000)

    code, output = run_perfcheck("--target", "fast api", "--samples", "4")

    assert code == 0
    header, row = output.strip().splitlines()
    assert header.split()[:4] == ["target", "kind", "samples", "p50"]
    assert row.startswith("fast api") and row.split()[-1] == "ok"
    assert "1000" in row.split()
    assert PerfResult.objects.count() == 4  # the samples are kept like any probe's


def test_a_breached_budget_exits_non_zero_and_json_says_why(portal, make_target):
    make_target(name="fast api", url="/api/system/health/live")
    make_target(name="slow api", url="/perf-test/slow/120/", budget_ms=50)

    code, output = run_perfcheck("--target", "fast api", "--target", "slow api", "--samples", "2", "--json")

    assert code == 1
    report = json.loads(output)
    verdicts = {row["target"]: row for row in report["targets"]}
    assert report["ok"] is False
    assert verdicts["fast api"]["verdict"] == "ok"
    assert verdicts["slow api"]["verdict"] == "breached"
    assert verdicts["slow api"]["p95_ms"] >= 120 and verdicts["slow api"]["budget_ms"] == 50


def test_a_failing_endpoint_fails_the_check(portal, make_target):
    make_target(name="broken api", url="/perf-test/fails/")

    code, output = run_perfcheck("--target", "broken api", "--samples", "1")

    assert code == 1
    assert "failed (HTTP 500, expected 200)" in output


def test_an_unknown_target_is_an_error(db):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="no such target: nope"):
        call_command("perfcheck", "--target", "nope")


def test_the_command_line_exit_status_is_usable_in_ci(portal, make_target):
    """A real `manage.py perfcheck` process, as CI would run it, against the live server."""
    make_target(name="slow api", url="/perf-test/slow/120/", budget_ms=50)
    env = test_database_env(PERF_BASE_URL=portal.url)

    process = subprocess.run(
        [sys.executable, "manage.py", "perfcheck", "--target", "slow api", "--samples", "1"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )

    assert process.returncode == 1, process.stderr
    assert "breached" in process.stdout
