from __future__ import annotations

from collections.abc import Iterator

import pytest

from performance.models import PerfTarget
from performance.signals import budget_breached, budget_recovered


@pytest.fixture
def portal(live_server, settings):
    """The portal and the test-only views served by a real threaded HTTP server on a loopback port."""
    settings.ROOT_URLCONF = "tests.performance.urls"
    settings.PERF_BASE_URL = live_server.url
    return live_server


@pytest.fixture
def make_target(db):
    def make(**fields) -> PerfTarget:
        fields.setdefault("name", f"target {PerfTarget.objects.count() + 1}")
        fields.setdefault("samples", 2)
        return PerfTarget.objects.create(**fields)

    return make


@pytest.fixture
def budget_signals() -> Iterator[list[tuple[str, dict]]]:
    received: list[tuple[str, dict]] = []

    def on_breach(sender, **kwargs):
        received.append(("breached", kwargs))

    def on_recovery(sender, **kwargs):
        received.append(("recovered", kwargs))

    budget_breached.connect(on_breach)
    budget_recovered.connect(on_recovery)
    yield received
    budget_breached.disconnect(on_breach)
    budget_recovered.disconnect(on_recovery)
