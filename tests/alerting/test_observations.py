"""Providers feed observations to the evaluator; a failing provider is reported, not fatal."""

from __future__ import annotations

import pytest

from alerting import observations
from alerting.observations import collect, collect_reporting_failures, known_metrics, register_provider
from tests.alerting.conftest import T0, metric


@pytest.fixture(autouse=True)
def only_this_tests_providers(only_test_providers):
    """The installed apps register providers of their own (performance, monitoring); these tests count theirs."""


def test_collect_returns_the_observations_of_every_provider():
    def disks(now):
        return [metric("disk_used_percent", 50, now, host="a", path="/")]

    def memory(now):
        yield metric("memory_used_percent", 70, now, host="a")

    register_provider(disks)
    register_provider(memory)
    try:
        names = sorted(o.name for o in collect(T0))
    finally:
        observations.unregister_provider(disks)
        observations.unregister_provider(memory)
    assert names == ["disk_used_percent", "memory_used_percent"]


def test_a_failing_provider_is_named_and_the_others_still_count():
    def broken(now):
        raise RuntimeError("snapshot table missing")

    def working(now):
        return [metric("cpu_percent", 10, now, host="a")]

    register_provider(broken)
    register_provider(working)
    try:
        found, failed = collect_reporting_failures(T0)
    finally:
        observations.unregister_provider(broken)
        observations.unregister_provider(working)
    assert [o.name for o in found] == ["cpu_percent"]
    assert failed == [broken.__qualname__]


def test_providers_declare_the_metric_names_rules_may_use():
    def queue_depth(now):
        return []

    assert "queue_depth" not in known_metrics()
    register_provider(queue_depth, metrics=["queue_depth"])
    observations.unregister_provider(queue_depth)
    assert "queue_depth" in known_metrics()
    # the contract metrics of the default rules are known before any provider registers
    assert {"disk_used_percent", "memory_used_percent", "cpu_percent", "backup_last_success_age_seconds"} <= set(
        known_metrics()
    )


@pytest.mark.django_db
def test_no_snapshot_yet_is_one_warning_line_not_a_traceback(caplog):
    """The first evaluation after a start (before the first snapshot) is expected: one line, no traceback."""
    from alerting.sources import snapshot_observations

    register_provider(snapshot_observations)
    try:
        with caplog.at_level("WARNING", logger="alerting"):
            found, failed = collect_reporting_failures(T0)
    finally:
        observations.unregister_provider(snapshot_observations)
    assert found == [] and failed == [snapshot_observations.__qualname__]  # its alerts stay as they are
    [record] = [r for r in caplog.records if "snapshot_observations" in r.getMessage()]
    assert record.levelname == "WARNING" and record.exc_info is None
    assert "no health snapshot yet" in record.getMessage()
