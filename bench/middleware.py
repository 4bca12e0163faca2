"""Overhead of the request-timing middleware per request, against the same trivial view without it, same run.

    .venv/bin/python bench/middleware.py [--requests 60000] [--rounds 60] [--single-process]

Requests go through Django's real WSGI handler (no socket, so network noise does not hide the difference), once
with the portal's MIDDLEWARE and once with the same list minus RequestTimingMiddleware; also with a bare stack
(the timing middleware alone vs no middleware), where the relative overhead is largest. Short chunks alternate
between the two sides; the median chunk's per-request time is reported, and the difference of the fastest chunks.
Target: under 0.1 ms per request, or under 3 %.

The aggregator's background flusher is off here: it writes once a minute on its own thread, never on the request
path, so it does not belong in a per-request figure.

Each timed request is also observed into the Prometheus histogram. By default that histogram is in
prometheus-client's multiprocess mode, as under gunicorn (gunicorn.conf.py sets PROMETHEUS_MULTIPROC_DIR; here a
temporary folder): every observation writes to a memory-mapped file. --single-process measures it without the folder
(runserver), where the values stay in memory. prometheus-client picks the mode when it is imported, so the choice is
made here before anything imports it.
"""

from __future__ import annotations

import argparse
import atexit
import io
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.update(
    {
        "DJANGO_SETTINGS_MODULE": "opsportal.settings",
        "ENV_FILE": "",
        "VAR_DIR": tempfile.mkdtemp(prefix="opsportal-bench-"),
        "SECRET_KEY": "bench-only-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz",
        "DATABASE_URL": "",
        "CELERY_BROKER_URL": "",
    }
)
SINGLE_PROCESS = "--single-process" in sys.argv
if SINGLE_PROCESS:
    os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)
else:
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="opsportal-bench-prometheus-")
    atexit.register(shutil.rmtree, os.environ["PROMETHEUS_MULTIPROC_DIR"], ignore_errors=True)

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.core.handlers.wsgi import WSGIHandler  # noqa: E402
from django.http import HttpResponse  # noqa: E402
from django.test.utils import override_settings  # noqa: E402
from django.urls import path  # noqa: E402

import performance.timing  # noqa: E402
from performance.timing import RequestTimingAggregator  # noqa: E402

TIMING = "performance.middleware.RequestTimingMiddleware"


def trivial(request, pk: int):
    return HttpResponse(b"ok", content_type="text/plain")


urlpatterns = [path("bench/items/<int:pk>/", trivial)]


def environ() -> dict:
    return {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": "/bench/items/42/",
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "HTTP_HOST": "127.0.0.1",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(b""),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }


def handler(middleware: list[str]) -> WSGIHandler:
    with override_settings(MIDDLEWARE=middleware, ROOT_URLCONF=__name__):
        built = WSGIHandler()
    return built


def per_request_us(app: WSGIHandler, requests: int) -> float:
    def start_response(status, headers, exc_info=None):
        if not status.startswith("200"):
            raise SystemExit(f"the trivial view answered {status}; the figures would be meaningless")

    with override_settings(ROOT_URLCONF=__name__):
        started = time.perf_counter()
        for _ in range(requests):
            body = app(environ(), start_response)
            for _chunk in body:
                pass
            body.close()
        return (time.perf_counter() - started) / requests * 1e6


def compare(label: str, with_mw: list[str], without_mw: list[str], requests: int, rounds: int) -> dict:
    app_with, app_without = handler(with_mw), handler(without_mw)
    per_request_us(app_with, 500)  # warm up both (imports, URL resolver caches)
    per_request_us(app_without, 500)
    # Short alternating chunks, so load from other processes hits both sides alike; the median chunk resists
    # bursts and the fastest chunk shows the undisturbed cost.
    chunk = max(1, requests // rounds)
    a, b = [], []
    for index in range(rounds):
        if index % 2:
            a.append(per_request_us(app_with, chunk))
            b.append(per_request_us(app_without, chunk))
        else:
            b.append(per_request_us(app_without, chunk))
            a.append(per_request_us(app_with, chunk))
    base, timed = statistics.median(b), statistics.median(a)
    return {
        "label": label,
        "baseline_us": base,
        "with_us": timed,
        "overhead_us": timed - base,
        "overhead_pct": (timed - base) / base * 100,
        "min_overhead_us": min(a) - min(b),
        "min_overhead_pct": (min(a) - min(b)) / min(b) * 100,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=60000, help="requests per side and stack")
    parser.add_argument("--rounds", type=int, default=60, help="alternating chunks per side")
    parser.add_argument("--single-process", action="store_true",
                        help="the Prometheus histogram in memory (runserver) instead of multiprocess files (gunicorn)")
    options = parser.parse_args()
    performance.timing._aggregator = RequestTimingAggregator(background=False)

    portal = list(settings.MIDDLEWARE)
    assert TIMING in portal, "RequestTimingMiddleware is not in MIDDLEWARE"
    results = [
        compare("portal stack", portal, [m for m in portal if m != TIMING], options.requests, options.rounds),
        compare("bare stack", [TIMING], [], options.requests, options.rounds),
    ]
    (histogram,) = performance.timing._aggregator.histogram.collect()
    counted = {
        (s.labels["route"], s.labels["method"], s.labels["status_class"]): s.value
        for s in histogram.samples
        if s.name.endswith("_count")
    }
    spare = RequestTimingAggregator(background=False)
    calls = 200000
    started = time.perf_counter()
    for _ in range(calls):
        spare.observe("bench/items/<int:pk>/", "GET", 200, 0.001)
    observe_us = (time.perf_counter() - started) / calls * 1e6
    print(f"python {sys.version.split()[0]}, django {django.get_version()}, {os.cpu_count()} cpu(s); "
          f"{options.requests} requests per side in {options.rounds} alternating chunks; load average "
          f"{os.getloadavg()[0]:.1f}")
    folder = settings.PROMETHEUS_MULTIPROC_DIR
    print(f"Prometheus histogram: {f'multiprocess files in {folder}' if folder else 'single process, in memory'}")
    print(f"{'stack':<14}{'without':>12}{'with':>12}{'overhead':>12}{'ratio':>9}{'fastest-chunk overhead':>26}"
          "  target <100 us or <3 %")
    for r in results:
        verdict = "PASS" if r["overhead_us"] < 100 or r["overhead_pct"] < 3 else "FAIL"
        print(
            f"{r['label']:<14}{r['baseline_us']:>9.1f} us{r['with_us']:>9.1f} us{r['overhead_us']:>9.2f} us"
            f"{r['overhead_pct']:>8.1f} %{r['min_overhead_us']:>14.2f} us ({r['min_overhead_pct']:.1f} %)  {verdict}"
        )
    print(f"aggregator.observe() alone: {observe_us:.2f} us per call ({calls} calls)")
    total = int(sum(counted.values()))
    print(f"(the histogram counted {total} timed requests under {len(counted)} key(s): {sorted(counted)})")


if __name__ == "__main__":
    main()
