"""A probe of the portal's own pages measures this portal: when another server answers at PERF_BASE_URL (a shared
host, an old instance on the default port), the probe fails saying so instead of timing the stranger."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator

import pytest

from opsportal.lib.instance import HEADER, instance_id
from performance.models import PerfResult
from performance.services import perf_target_probe

pytestmark = pytest.mark.django_db(transaction=True)


class _Stranger(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        body = b'{"status": "ok"}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def stranger() -> Iterator[str]:
    """Another real HTTP server on a loopback port, answering 200 to everything (as an unrelated service would)."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Stranger)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_another_server_at_the_base_url_fails_the_probe_naming_it(settings, stranger, make_target):
    settings.PERF_BASE_URL = stranger
    target = make_target(name="liveness", url_name="monitoring:health-live", samples=2)

    perf_target_probe(target_id=target.pk)

    results = list(PerfResult.objects.filter(target=target))
    assert len(results) == 2
    for result in results:
        assert result.outcome == PerfResult.Outcome.FAILED
        assert f"another server answered at {stranger}/api/system/health/live" in result.error
        assert "PERF_BASE_URL" in result.error


def test_this_portal_answering_is_measured(portal, make_target):
    target = make_target(name="liveness", url_name="monitoring:health-live", samples=2)
    perf_target_probe(target_id=target.pk)
    assert set(PerfResult.objects.filter(target=target).values_list("outcome", flat=True)) == {"ok"}


def test_every_response_says_which_portal_sent_it(client):
    assert client.get("/api/system/health/live")[HEADER] == instance_id()
    assert client.get("/no-such-page/")[HEADER] == instance_id()  # errors too


def test_an_external_url_is_measured_without_asking_who_it_is(settings, stranger, make_target):
    settings.PERF_BASE_URL = "http://127.0.0.1:9"  # the portal is elsewhere; the target names its own server
    target = make_target(name="partner api", url=f"{stranger}/status", samples=2)
    perf_target_probe(target_id=target.pk)
    assert set(PerfResult.objects.filter(target=target).values_list("outcome", flat=True)) == {"ok"}
