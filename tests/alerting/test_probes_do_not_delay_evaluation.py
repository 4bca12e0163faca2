"""Slow performance probes never hold up alert evaluation in the Procfile's worker (one worker, all queues)."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from django.utils import timezone

from alerting.models import Alert
from alerting.tasks import evaluate
from monitoring.models import HealthSnapshot, MetricSample
from performance.models import PerfTarget
from performance.tasks import probe_target
from tests.conftest import ROOT, wait_for

pytestmark = pytest.mark.django_db(transaction=True)


def procfile_worker() -> tuple[str, int]:
    """The queues and the default concurrency of the Procfile's worker."""
    line = next(line for line in Path(ROOT / "Procfile").read_text().splitlines() if line.startswith("worker:"))
    queues = re.search(r"-Q (\S+)", line).group(1)
    concurrency = int(re.search(r"--concurrency \$\{CELERY_WORKER_CONCURRENCY:-(\d+)\}", line).group(1))
    return queues, concurrency


@pytest.fixture
def stalled_page() -> Iterator[tuple[str, threading.Event, list[str]]]:
    """A real HTTP server whose page answers only once the test releases it: a probe of it runs until then."""
    release, requests = threading.Event(), []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's hook name)
            requests.append(self.path)
            release.wait(60)
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", release, requests
    finally:
        release.set()
        server.shutdown()
        server.server_close()


def test_an_evaluation_sent_after_slow_probes_runs_while_they_still_run(celery_worker_process, make_rule, stalled_page):
    base_url, release, requests = stalled_page
    rule = make_rule(name="Disk almost full", for_duration=timedelta(0))
    snapshot = HealthSnapshot.objects.create(taken_at=timezone.now(), status="critical", duration_ms=1)
    MetricSample.objects.create(snapshot=snapshot, taken_at=snapshot.taken_at, name="disk_used_percent",
                                labels="host=db1,path=/", value=97)
    targets = [PerfTarget.objects.create(name=f"slow page {n}", url=f"{base_url}/page{n}", samples=1, budget_ms=1000)
               for n in (1, 2)]
    queues, concurrency = procfile_worker()
    celery_worker_process(queues=queues, concurrency=concurrency, extra_env={"PERF_PROBE_TIMEOUT": "60s"})

    for target in targets:  # as a probe round queues them: one task per target, before the snapshot's evaluation
        probe_target.delay(target.pk)
    wait_for(lambda: requests, timeout=60, what="a probe to reach the stalled page")
    evaluate.delay()

    alert = wait_for(lambda: Alert.objects.filter(rule=rule, state="firing").first(), timeout=20,
                     what="the evaluation sent after the probes to fire the alert")
    assert alert.last_value == 97
    assert not release.is_set()  # the probes were still waiting for the page all along
    assert PerfTarget.objects.filter(probing_since__isnull=False).exists()
    release.set()
    wait_for(lambda: len(requests) == 2 and not PerfTarget.objects.filter(probing_since__isnull=False).exists(),
             timeout=60, what="both probes to finish once the page answers")
