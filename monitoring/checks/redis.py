"""Redis as the Celery broker and as the cache: PING latency, used memory against maxmemory, connected clients."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from urllib.parse import urlsplit

import redis
from django.conf import settings
from django.utils.translation import gettext_noop as _

from monitoring.checks.base import Answer, CheckOutcome, HealthCheck, MetricValue, answer_of, threshold_status
from monitoring.messages import Message
from monitoring.registry import register

MEMORY_WARNING_PERCENT = 80.0
MEMORY_CRITICAL_PERCENT = 95.0

_clients: dict[tuple[str, float], redis.Redis] = {}
_clients_lock = threading.Lock()


def redis_client(url: str, *, timeout: float) -> redis.Redis:
    """One client (and connection pool) per URL and process: a health request must not pay a new TCP handshake."""
    key = (url, timeout)
    with _clients_lock:
        client = _clients.get(key)
        if client is None:
            client = redis.Redis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout,
                                          health_check_interval=0)
            _clients[key] = client
        return client


def redacted(url: str) -> str:
    """host:port/db of a Redis URL: never the password."""
    parts = urlsplit(url)
    return f"{parts.hostname}:{parts.port or 6379}{parts.path or ''}"


def redis_urls() -> dict[str, str]:
    urls = {}
    broker = settings.CELERY_BROKER_URL
    if broker.startswith(("redis://", "rediss://")):
        urls["broker"] = broker
    cache = settings.CACHES.get("default", {})
    if "redis" in cache.get("BACKEND", "").lower():
        location = cache.get("LOCATION")
        location = location[0] if isinstance(location, list | tuple) else location
        if location:
            urls["cache"] = location
    return urls


def _probe(url: str, *, timeout: float) -> tuple[float, dict, dict]:
    """PING and both INFO sections in one round trip: its time is the latency (INFO costs Redis microseconds)."""
    pipe = redis_client(url, timeout=timeout).pipeline(transaction=False)
    pipe.ping()
    pipe.info("memory")
    pipe.info("clients")
    started = time.perf_counter()
    _pong, memory, clients = pipe.execute()
    return (time.perf_counter() - started) * 1000, memory, clients


@register
class RedisCheck(HealthCheck):
    name = "redis"

    def __init__(self, role: str = "broker") -> None:
        self.role = role
        self.name = f"redis:{role}"

    @classmethod
    def instances(cls) -> list[HealthCheck]:
        return [cls(role) for role in redis_urls()]

    def run(self) -> CheckOutcome:
        url = redis_urls()[self.role]
        return self._outcome(url, _probe(url, timeout=self.timeout))

    def together_key(self) -> str | None:
        # The broker and the cache on one server: one pool job (a server that hangs holds both anyway).
        url = redis_urls().get(self.role)
        return redacted(url).split("/", 1)[0] if url else None

    @classmethod
    def run_together(cls, checks: Sequence[HealthCheck]) -> list[Answer]:
        """The Redis checks of one server in one job; roles with the same URL (the broker and the cache in one
        database) share one PING and INFO, each reporting it under its own name."""
        probes: dict[str, Answer] = {}
        answers = []
        for check in checks:
            url = redis_urls()[check.role]  # type: ignore[attr-defined]
            if url not in probes:
                probes[url] = answer_of(lambda url=url, check=check: _probe(url, timeout=check.timeout))
            probe = probes[url]
            if probe.error is not None:
                answers.append(Answer(error=probe.error))
            else:
                answers.append(answer_of(lambda url=url, check=check, probe=probe: check._outcome(url, probe.value)))
        return answers

    def _outcome(self, url: str, probe: tuple[float, dict, dict]) -> CheckOutcome:
        latency_ms, memory, clients = probe
        labels = {"role": self.role}
        used, maximum = int(memory.get("used_memory", 0)), int(memory.get("maxmemory", 0))
        connected = int(clients.get("connected_clients", 0))
        values = {"server": redacted(url), "latency_ms": round(latency_ms, 2), "used_memory_bytes": used,
                  "maxmemory_bytes": maximum, "connected_clients": connected}
        samples = [
            MetricValue("redis_latency_seconds", latency_ms / 1000, labels,
                        "Round trip of PING (with INFO memory and clients)."),
            MetricValue("redis_used_memory_bytes", used, labels, "Memory used by Redis."),
            MetricValue("redis_maxmemory_bytes", maximum, labels, "Redis maxmemory (0: no limit)."),
            MetricValue("redis_connected_clients", connected, labels, "Clients connected to Redis."),
        ]
        if not maximum:
            message = Message(_("PING %(ms).1f ms, %(mib).1f MiB used (no maxmemory)"), {"ms": latency_ms,
                                                                                          "mib": used / 2**20})
            return self.ok(message, values, samples)
        percent = 100.0 * used / maximum
        values["used_memory_percent"] = round(percent, 1)
        status = threshold_status(percent, warning=MEMORY_WARNING_PERCENT, critical=MEMORY_CRITICAL_PERCENT)
        message = Message(_("PING %(ms).1f ms, %(percent).0f%% of maxmemory used"),
                          {"ms": latency_ms, "percent": percent})
        return self.result(status, message, values, samples)
