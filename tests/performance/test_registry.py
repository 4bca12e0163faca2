"""Targets declared in any installed app's perf.py are discovered and synced idempotently."""

from __future__ import annotations

import pytest
from django.urls import NoReverseMatch, reverse

from performance.models import PerfTarget
from performance.registry import TargetSpec, discover_targets
from performance.services import perf_targets_sync

pytestmark = pytest.mark.django_db


@pytest.fixture
def with_perfapp(settings):
    settings.INSTALLED_APPS = [*settings.INSTALLED_APPS, "tests.performance.perfapp"]
    settings.ROOT_URLCONF = "tests.performance.urls"


def test_a_test_apps_perf_py_is_discovered(with_perfapp):
    declared = {d.spec.name: d for d in discover_targets()}

    assert declared["perfapp: liveness"].source == "tests.performance.perfapp.perf"
    assert declared["perfapp: test page"].spec.kind == "page"
    # declared only if its URL resolves, and it does not
    assert "perfapp: not installed" not in declared


def test_the_portals_health_api_and_admin_index_are_default_targets():
    declared = {d.spec.name: d.spec for d in discover_targets()}

    assert declared["portal: liveness API"].url_name == "monitoring:health-live"
    assert reverse("monitoring:health-live") == "/api/system/health/live"
    assert declared["portal: admin index"].kind == "page"
    try:
        reverse("monitoring:health")
    except NoReverseMatch:
        assert "portal: health API" not in declared  # the monitoring app has not added it yet
    else:
        assert declared["portal: health API"].url_name == "monitoring:health"


def test_sync_creates_each_declared_target_once_and_keeps_admin_edits(with_perfapp):
    PerfTarget.objects.all().delete()  # migrate's post_migrate already synced the portal's defaults

    created = perf_targets_sync()
    assert {"perfapp: liveness", "perfapp: test page", "portal: admin index"} <= {t.name for t in created}
    liveness = PerfTarget.objects.get(name="perfapp: liveness")
    assert (liveness.budget_ms, liveness.samples, liveness.url) == (500, 2, "/api/system/health/live")
    assert PerfTarget.objects.get(name="perfapp: test page").budget_ms == 3000

    PerfTarget.objects.filter(pk=liveness.pk).update(budget_ms=750, enabled=False)
    count = PerfTarget.objects.count()

    assert perf_targets_sync() == []
    assert PerfTarget.objects.count() == count
    liveness.refresh_from_db()
    assert (liveness.budget_ms, liveness.enabled) == (750, False)


def test_a_spec_needs_exactly_one_address_and_a_known_kind():
    with pytest.raises(ValueError, match="exactly one of url= or url_name="):
        TargetSpec(name="both", url="/x", url_name="admin:index")
    with pytest.raises(ValueError, match="kind must be"):
        TargetSpec(name="odd", url="/x", kind="graphql")


def test_a_missing_chromium_is_reported_by_manage_py_check(settings):
    from django.core.checks import run_checks

    assert "performance.W001" not in {message.id for message in run_checks()}  # /usr/bin/chromium is installed
    settings.PERF_CHROMIUM_PATH = "/nonexistent/chromium"
    warnings = [message for message in run_checks() if message.id == "performance.W001"]
    assert len(warnings) == 1 and "/nonexistent/chromium" in warnings[0].msg
