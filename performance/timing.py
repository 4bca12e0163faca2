"""In-memory aggregation of request timings, flushed as per-minute RequestStat rows, and the Prometheus histogram.

The request path only takes a lock and bumps a few numbers; the database write happens on a background thread
once a minute (and at exit), so no request waits for it. Each process aggregates its own requests; after a fork
(gunicorn workers) the child starts empty and starts its own flusher.

Every observation also goes into a prometheus-client Histogram (`opsportal_http_request_duration_seconds`). Under
gunicorn, PROMETHEUS_MULTIPROC_DIR is set (gunicorn.conf.py), prometheus-client keeps its values in one memory-mapped
file per worker in that folder, and the metrics endpoint adds up all the files (performance/metrics.py); in a single
process (runserver, tests) the values live in this process's memory.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
from bisect import bisect_left
from dataclasses import dataclass, field
from datetime import UTC, datetime

from prometheus_client import Histogram

from opsportal.lib.periodic import PeriodicThread

logger = logging.getLogger(__name__)

# Upper bounds in ms, aligned to the budgets (1 s API, 3 s page); the last bucket counts everything slower.
BUCKETS_MS: tuple[float, ...] = (25, 50, 100, 250, 500, 1000, 2000, 3000, 5000, 10000)
UNMATCHED_ROUTE = "<unmatched>"
STATIC_ROUTE = "<static>"
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
STATUS_CLASSES = ("1xx", "2xx", "3xx", "4xx", "5xx")

Key = tuple[str, str, str]  # route, method, status class

REQUEST_HISTOGRAM = "opsportal_http_request_duration_seconds"
REQUEST_HISTOGRAM_HELP = (
    "Server time of requests by route pattern, method and status class, since the web server started."
)
REQUEST_HISTOGRAM_LABELS = ("route", "method", "status_class")


def request_histogram() -> Histogram:
    """A new, unregistered request histogram: the metrics endpoint collects it itself (performance/metrics.py)."""
    return Histogram(
        REQUEST_HISTOGRAM,
        REQUEST_HISTOGRAM_HELP,
        labelnames=REQUEST_HISTOGRAM_LABELS,
        buckets=[ms / 1000 for ms in BUCKETS_MS],
        registry=None,
    )


@dataclass
class Bucket:
    count: int = 0
    sum_ms: float = 0.0
    max_ms: float = 0.0
    buckets: list[int] = field(default_factory=lambda: [0] * (len(BUCKETS_MS) + 1))


def status_class(status: int) -> str:
    index = status // 100 - 1
    return STATUS_CLASSES[index] if 0 <= index < 5 else "5xx"


class RequestTimingAggregator:
    def __init__(self, *, flush_interval: float = 60.0, background: bool = True) -> None:
        self.flush_interval = flush_interval
        self.background = background
        self._lock = threading.Lock()
        self._minutes: dict[int, dict[Key, Bucket]] = {}  # minute (epoch // 60) -> key -> bucket
        self.histogram = request_histogram()  # since process start, for Prometheus
        self._children: dict[Key, Histogram] = {}  # histogram.labels(*key), looked up once per key
        self._pid = os.getpid()
        self._flusher: PeriodicThread | None = None
        self._stopped = False
        # A forked child (gunicorn worker) starts empty: the parent's numbers are the parent's, its thread is gone.
        os.register_at_fork(after_in_child=self._after_fork)

    # --- hot path ------------------------------------------------------------------------------------------------
    def observe(self, route: str, method: str, status: int, seconds: float, *, now: float | None = None) -> None:
        ms = seconds * 1000.0
        index = bisect_left(BUCKETS_MS, ms)
        key = (route, method if method in KNOWN_METHODS else "OTHER", status_class(status))
        minute = int((now if now is not None else time.time()) // 60)
        with self._lock:
            per_minute = self._minutes.get(minute)
            if per_minute is None:
                per_minute = self._minutes[minute] = {}
            bucket = per_minute.get(key)
            if bucket is None:
                bucket = per_minute[key] = Bucket()
            bucket.count += 1
            bucket.sum_ms += ms
            if ms > bucket.max_ms:
                bucket.max_ms = ms
            bucket.buckets[index] += 1
            if self._flusher is None and self.background and not self._stopped:
                self._start_flusher()
        child = self._children.get(key)
        if child is None:  # labels() is thread-safe and returns the same child for the same key
            child = self._children[key] = self.histogram.labels(*key)
        child.observe(seconds)

    # --- flushing ------------------------------------------------------------------------------------------------
    def take(self, *, include_current: bool) -> dict[int, dict[Key, Bucket]]:
        """Remove and return finished minutes (and the current one if asked)."""
        current = int(time.time() // 60)
        with self._lock:
            taken = {m: keys for m, keys in self._minutes.items() if include_current or m < current}
            for minute in taken:
                del self._minutes[minute]
        return taken

    def flush(self, *, include_current: bool = True) -> int:
        """Write finished minutes as RequestStat rows; return how many rows were written."""
        taken = self.take(include_current=include_current)
        if not taken:
            return 0
        from performance.services import request_stats_write

        return request_stats_write(
            rows=[
                (datetime.fromtimestamp(minute * 60, tz=UTC), key, bucket)
                for minute, keys in sorted(taken.items())
                for key, bucket in keys.items()
            ]
        )

    def _after_fork(self) -> None:
        self._lock = threading.Lock()  # another thread may have held it at the moment of the fork
        self._pid = os.getpid()
        self._minutes = {}
        # In multiprocess mode prometheus-client would switch to this process's own file by itself; in a single
        # process the parent's values would stay. A new histogram starts empty either way.
        self.histogram = request_histogram()
        self._children = {}
        self._flusher = None
        self._stopped = False

    def _start_flusher(self) -> None:
        # A database hiccup is logged and the next round retries: timing must never take the web process down.
        self._flusher = PeriodicThread(
            lambda: self.flush(include_current=False),
            every=self.flush_interval,
            name="perf-request-timing",
            error_message="could not write request timings",
            logger=logger,
        ).start()
        atexit.register(self._flush_at_exit)

    def _flush_at_exit(self) -> None:
        self._halt()
        if self._pid == os.getpid():
            self._flush_quietly(include_current=True)

    def _flush_quietly(self, *, include_current: bool) -> None:
        from django.db import connection

        try:
            self.flush(include_current=include_current)
        except Exception:  # timing is best effort: a database hiccup must never take the web process down
            logger.exception("could not write request timings")
        finally:
            connection.close()  # this thread's own connection; Django would otherwise keep it open forever

    def stop(self) -> None:
        """Stop the flusher thread without a final flush (tests, and the benchmark's throwaway aggregators)."""
        self._halt()
        atexit.unregister(self._flush_at_exit)

    def _halt(self) -> None:
        self._stopped = True
        if self._flusher is not None:
            self._flusher.stop()


_aggregator: RequestTimingAggregator | None = None
_aggregator_lock = threading.Lock()


def get_aggregator() -> RequestTimingAggregator:
    global _aggregator
    if _aggregator is None:
        with _aggregator_lock:
            if _aggregator is None:
                from django.conf import settings
                from django.core import mail

                _aggregator = RequestTimingAggregator(
                    flush_interval=settings.PERF_REQUEST_FLUSH_INTERVAL.total_seconds(),
                    # Under Django's test environment (mail.outbox exists only then) nothing is written behind the
                    # tests' back: at exit the test database is gone and DATABASES names the real one again.
                    background=not hasattr(mail, "outbox"),
                )
    return _aggregator
