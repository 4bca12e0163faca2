"""A target whose last probe round failed reads *failing* everywhere, never "within budget" (issue 16, item 1).

Real peers: a dead loopback port (bound, then closed: connecting is refused) and a local HTTP server answering
404 for one path and 200 for another.
"""

from __future__ import annotations

import json
from datetime import timedelta
from io import StringIO

import pytest
import time_machine
from django.core.management import call_command
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from alerting.models import Alert
from alerting.observations import collect
from alerting.services import alerts_evaluate
from performance.metrics import render_performance_metrics
from performance.models import PerfTarget
from performance.selectors import perf_target_window_stats, perf_targets_breached, perf_targets_failing
from performance.services import perf_target_probe
from tests.conftest import free_port

pytestmark = pytest.mark.django_db


@pytest.fixture
def targets(httpserver, make_target) -> dict[str, PerfTarget]:
    httpserver.expect_request("/missing").respond_with_data("no such page", status=404)
    httpserver.expect_request("/fine").respond_with_data("hello", status=200)
    dead_port = free_port()  # bound, then closed: nobody listens, every connection is refused
    return {
        "refused": make_target(name="refused api", url=f"http://127.0.0.1:{dead_port}/api", samples=3),
        "missing": make_target(name="missing api", url=httpserver.url_for("/missing"), samples=3),
        "healthy": make_target(name="healthy api", url=httpserver.url_for("/fine"), samples=3, budget_ms=1000),
    }


def probe_all(targets: dict[str, PerfTarget]) -> dict[str, PerfTarget]:
    for target in targets.values():
        assert perf_target_probe(target_id=target.pk)
    return {key: PerfTarget.objects.get(pk=target.pk) for key, target in targets.items()}


OURS = {"refused api", "missing api", "healthy api"}


def metric_values(name: str) -> dict[str, float]:
    """The gauge per target, for this test's targets (the portal's own declared targets exist too, unprobed)."""
    text = render_performance_metrics().decode()
    return {
        sample.labels["target"]: sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name and sample.labels["target"] in OURS
    }


def run_perfcheck(*args: str) -> tuple[int, str]:
    out = StringIO()
    try:
        call_command("perfcheck", *args, stdout=out)
    except SystemExit as exit_:
        return int(exit_.code), out.getvalue()
    return 0, out.getvalue()


def test_refused_and_404_targets_are_failing_with_no_latency_and_a_healthy_one_is_within_budget(targets):
    probed = probe_all(targets)

    assert probed["refused"].state == PerfTarget.State.FAILING
    assert probed["missing"].state == PerfTarget.State.FAILING
    assert "404" in probed["missing"].last_error and probed["refused"].last_error
    assert probed["healthy"].state == PerfTarget.State.WITHIN_BUDGET
    # Latency comes from successful samples only: a refused connection's few milliseconds are no p95.
    assert probed["refused"].last_p95_ms is None and probed["missing"].last_p95_ms is None
    assert perf_target_window_stats(target=probed["refused"]).p95_ms is None
    assert perf_target_window_stats(target=probed["missing"]).failures == 3
    assert probed["healthy"].last_p95_ms is not None and probed["healthy"].last_p95_ms < 1000
    assert {t.name for t in perf_targets_failing()} == {"refused api", "missing api"}
    assert {t.name for t in perf_targets_breached()} == {"refused api", "missing api"}


def test_failing_targets_export_up_0_breached_1_and_no_p95(targets):
    probe_all(targets)

    assert metric_values("opsportal_perf_target_up") == {"refused api": 0, "missing api": 0, "healthy api": 1}
    assert metric_values("opsportal_perf_target_breached") == {"refused api": 1, "missing api": 1, "healthy api": 0}
    assert set(metric_values("opsportal_perf_target_p95_seconds")) == {"healthy api"}


def test_the_overview_and_the_targets_list_show_failing_in_red_and_unmeasured_in_grey(
    targets, admin_client, make_target
):
    probe_all(targets)
    make_target(name="new api", url="/api/new")  # never probed

    page = admin_client.get("/admin/").content.decode()
    table = page.split('id="performance-targets"')[1].split("</table>")[0]
    rows = {row.split("</a>")[0].rsplit(">", 1)[-1]: row for row in table.split("<tr")[2:]}
    for name in ("refused api", "missing api"):
        assert 'class="perf-failing"' in rows[name] and "failing" in rows[name]
        assert "within budget" not in rows[name] and " ms</td>" not in rows[name].split("<td>")[3]
    assert 'class="perf-ok"' in rows["healthy api"] and "within budget" in rows["healthy api"]
    assert 'class="perf-unmeasured"' in rows["new api"] and "not measured yet" in rows["new api"]
    assert "within budget" not in rows["new api"] and "#2e7d32" not in rows["new api"]

    listing = admin_client.get("/admin/performance/perftarget/").content.decode()
    assert listing.count('class="perf-failing"') == 2
    assert listing.count('class="perf-ok"') == 1
    # "new api" and the portal's own declared targets, none probed yet: grey, not green.
    assert listing.count('class="perf-unmeasured"') == PerfTarget.objects.filter(last_probed_at=None).count() > 1


def test_a_failing_target_fires_the_budget_alert(targets):
    probe_all({"refused": targets["refused"]})

    with time_machine.travel(timezone.now(), tick=False) as clock:
        for _ in range(12):
            now = timezone.now()
            alerts_evaluate(observations=list(collect(now)), now=now)
            clock.shift(timedelta(minutes=1))
    alert = Alert.objects.get(rule__key="performance-budget", labels__target="refused api")
    assert alert.state == "firing"
    assert not Alert.objects.filter(rule__key="performance-budget", labels__target="healthy api").exists()


def test_perfcheck_reports_failing_targets_as_failures_without_latency_of_failed_attempts(targets):
    code, output = run_perfcheck("--target", "refused api", "--target", "missing api", "--target", "healthy api")

    assert code == 1
    lines = {line.split("  ")[0]: line for line in output.strip().splitlines()[1:]}
    for name in ("refused api", "missing api"):
        cells = lines[name].split()
        assert "failed" in cells
        assert cells[4:6] == ["-", "-"]  # p50 and p95: no successful sample, no figure
    assert lines["healthy api"].split()[-1] == "ok"

    code, output = run_perfcheck("--target", "refused api", "--target", "healthy api", "--json")
    report = json.loads(output)
    rows = {row["target"]: row for row in report["targets"]}
    assert code == 1 and report["ok"] is False
    assert rows["refused api"]["verdict"] == "failed"
    assert rows["refused api"]["p50_ms"] is None and rows["refused api"]["p95_ms"] is None
    assert rows["healthy api"]["verdict"] == "ok" and rows["healthy api"]["p95_ms"] is not None


def test_a_failing_target_recovers_with_the_first_round_that_succeeds(targets, httpserver):
    probe_all({"missing": targets["missing"]})
    PerfTarget.objects.filter(pk=targets["missing"].pk).update(url=httpserver.url_for("/fine"))

    recovered = probe_all({"missing": targets["missing"]})["missing"]

    assert recovered.state == PerfTarget.State.WITHIN_BUDGET
    assert recovered.failing_since is None and recovered.last_error == ""
    assert metric_values("opsportal_perf_target_up")["missing api"] == 1
    assert metric_values("opsportal_perf_target_breached")["missing api"] == 0
