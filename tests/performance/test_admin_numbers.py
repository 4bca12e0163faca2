"""Probe results and rollups in the admin: rounded milliseconds with their unit, sortable, coloured outcomes."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from performance.models import PerfResult, PerfRollup

pytestmark = pytest.mark.django_db

RAW = ["156.30000000004657", "41.19999999999709", "1234.5678900000001", "2999.899999999"]


@pytest.fixture
def result(make_target) -> PerfResult:
    return PerfResult.objects.create(
        target=make_target(name="home", url="/"), measured_at=timezone.now(), outcome="failed", http_status=200,
        duration_ms=156.30000000004657, ttfb_ms=41.19999999999709, dom_content_loaded_ms=1234.5678900000001,
        load_ms=2999.899999999, lcp_ms=1234.5678900000001,
    )


def test_the_result_list_shows_rounded_milliseconds_and_a_coloured_outcome(admin_client, result):
    page = admin_client.get(reverse("admin:performance_perfresult_changelist")).content.decode()

    assert "156 ms" in page and "41.2 ms" in page and "1.2 s" in page
    assert not any(raw in page for raw in RAW)
    assert 'class="perf-status perf-status-failed"' in page


def test_the_result_page_shows_every_timing_rounded(admin_client, result):
    page = admin_client.get(reverse("admin:performance_perfresult_change", args=[result.pk])).content.decode()

    assert "156 ms" in page and "41.2 ms" in page and "1.2 s" in page and "3.0 s" in page
    assert not any(raw in page for raw in RAW)


def test_the_duration_column_sorts_by_the_number(admin_client, make_target):
    target = make_target(name="api", url="/api")
    now = timezone.now()
    for minutes, duration in [(0, 900.5), (1, 12.25), (2, 3000.0)]:
        PerfResult.objects.create(target=target, measured_at=now - timedelta(minutes=minutes), outcome="ok",
                                  duration_ms=duration)

    response = admin_client.get(reverse("admin:performance_perfresult_changelist"), {"o": "5"})

    assert [r.duration_ms for r in response.context["cl"].result_list] == [12.25, 900.5, 3000.0]


def test_rollup_percentiles_are_rounded_in_the_list_and_on_the_page(admin_client, make_target):
    rollup = PerfRollup.objects.create(target=make_target(name="home", url="/"), hour=timezone.now(), count=4,
                                       failures=0, p50_ms=156.30000000004657, p95_ms=41.19999999999709,
                                       p99_ms=1234.5678900000001, max_ms=2999.899999999)

    listing = admin_client.get(reverse("admin:performance_perfrollup_changelist")).content.decode()
    detail = admin_client.get(reverse("admin:performance_perfrollup_change", args=[rollup.pk])).content.decode()

    for page in (listing, detail):
        assert "156 ms" in page and "41.2 ms" in page and "1.2 s" in page and "3.0 s" in page
        assert not any(raw in page for raw in RAW)
