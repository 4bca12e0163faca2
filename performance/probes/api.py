"""API probe: real HTTP requests with httpx, timing the first byte and the whole response."""

from __future__ import annotations

import time

import httpx

from opsportal.lib.instance import HEADER
from performance.probes import ProbeMeasurement, another_server


def probe_api(
    *, url: str, method: str, expected_status: int, samples: int, timeout: float, expected_instance: str = ""
) -> list[ProbeMeasurement]:
    """`expected_instance`: this portal's id (opsportal.lib.instance), when the URL is one of its own pages."""
    results: list[ProbeMeasurement] = []
    # One client for all samples, as a real API consumer keeps its connection; the first sample pays the connect.
    with httpx.Client(
        timeout=timeout, follow_redirects=False, headers={"User-Agent": "OpsPortal-perf-probe"}
    ) as client:
        for _ in range(samples):
            results.append(_one_request(client, url=url, method=method, expected_status=expected_status,
                                        expected_instance=expected_instance))
    return results


def _one_request(client: httpx.Client, *, url: str, method: str, expected_status: int,
                 expected_instance: str) -> ProbeMeasurement:
    started = time.perf_counter()
    try:
        with client.stream(method, url) as response:
            # stream() returns once the status line and headers are in: that is the time to first byte.
            ttfb = time.perf_counter() - started
            size = sum(len(chunk) for chunk in response.iter_raw())
            total = time.perf_counter() - started
    except httpx.HTTPError as exc:
        elapsed = (time.perf_counter() - started) * 1000
        return ProbeMeasurement(outcome="failed", duration_ms=elapsed, error=f"{type(exc).__name__}: {exc}"[:1000])
    error = ""
    if expected_instance and response.headers.get(HEADER) != expected_instance:
        error = another_server(url)
    elif response.status_code != expected_status:
        error = f"HTTP {response.status_code}, expected {expected_status}"
    return ProbeMeasurement(
        outcome="failed" if error else "ok",
        duration_ms=total * 1000,
        http_status=response.status_code,
        ttfb_ms=ttfb * 1000,
        size_bytes=size,
        error=error,
    )
