"""Every configured database alias: round-trip latency, connections in use against max_connections, size."""

from __future__ import annotations

import threading
import time

from django.db import connections
from django.utils.translation import gettext_noop as _

from monitoring.checks.base import CheckOutcome, HealthCheck, MetricValue, threshold_status
from monitoring.messages import Message
from monitoring.models import Status
from monitoring.registry import register
from monitoring.sqlread import SqlRead, read_alone

# Share of max_connections in use: near the limit new requests and workers start failing to connect.
CONNECTIONS_WARNING_PERCENT = 80.0
CONNECTIONS_CRITICAL_PERCENT = 95.0


# pg_database_size() walks the database's files: worth doing every SIZE_REFRESH seconds, not on every request.
SIZE_REFRESH = 60.0
_sizes: dict[str, tuple[float, int]] = {}
_sizes_lock = threading.Lock()


def database_size(alias: str) -> int:
    now = time.monotonic()
    with _sizes_lock:
        known = _sizes.get(alias)
    if known and now - known[0] < SIZE_REFRESH:
        return known[1]
    with connections[alias].cursor() as cursor:
        cursor.execute("SELECT pg_database_size(current_database())")
        size = cursor.fetchone()[0]
    with _sizes_lock:
        _sizes[alias] = (now, size)
    return size


@register
class DatabaseCheck(HealthCheck):
    name = "database"
    uses_database = True

    def __init__(self, alias: str = "default") -> None:
        self.alias = alias
        self.name = "database" if alias == "default" else f"database:{alias}"

    @classmethod
    def instances(cls) -> list[HealthCheck]:
        return [cls(alias) for alias in connections]

    def run(self) -> CheckOutcome:
        connection = connections[self.alias]
        labels = {"database": self.alias}
        if connection.vendor != "postgresql":
            started = time.perf_counter()
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1")
                cursor.fetchone()
            latency_ms = (time.perf_counter() - started) * 1000
            values: dict = {"alias": self.alias, "vendor": connection.vendor, "latency_ms": round(latency_ms, 2)}
            samples = [MetricValue("database_latency_seconds", latency_ms / 1000, labels, "Round trip of a query.")]
            return self.ok(Message(_("%(vendor)s answers in %(ms).1f ms"),
                                   {"vendor": connection.vendor, "ms": latency_ms}),
                           values, samples)

        return read_alone(self.sql_read())

    def sql_alias(self) -> str | None:
        return self.alias if connections[self.alias].vendor == "postgresql" else None

    def sql_read(self) -> SqlRead | None:
        """The PostgreSQL check as one read (monitoring/sqlread.py): the runner may share its round trip with the
        other database checks' reads; its latency is then that statement's round trip."""
        if connections[self.alias].vendor != "postgresql":
            return None
        # One round trip is both the latency probe and the connection count: reading ~100 rows of
        # pg_stat_activity costs the server next to nothing. Its function, not the view: the view joins
        # pg_database and pg_authid, which this count does not need, and planning those joins cost more than
        # executing it (the statement is planned on every report).
        return SqlRead(self.alias, ["(SELECT count(*) FROM pg_stat_get_activity(NULL)"
                                    " WHERE backend_type = 'client backend')",
                                    "current_setting('max_connections')::int"], self._finish)

    def _finish(self, row: tuple, seconds: float) -> CheckOutcome:
        in_use, maximum = row
        connection = connections[self.alias]
        labels = {"database": self.alias}
        latency_ms = seconds * 1000
        size = database_size(self.alias)
        values = {"alias": self.alias, "vendor": connection.vendor, "latency_ms": round(latency_ms, 2)}
        samples = [MetricValue("database_latency_seconds", latency_ms / 1000, labels, "Round trip of a query.")]
        percent = 100.0 * in_use / maximum if maximum else 0.0
        values.update(connections=in_use, max_connections=maximum, connections_percent=round(percent, 1),
                      size_bytes=size)
        samples += [
            MetricValue("database_connections", in_use, labels, "Client connections to the server."),
            MetricValue("database_max_connections", maximum, labels, "The server's max_connections."),
            MetricValue("database_size_bytes", size, labels, "Size of the database."),
        ]
        status = threshold_status(percent, warning=CONNECTIONS_WARNING_PERCENT, critical=CONNECTIONS_CRITICAL_PERCENT)
        counts = {"ms": latency_ms, "used": in_use, "max": maximum, "percent": percent}
        message = Message(_("PostgreSQL answers in %(ms).1f ms; %(used)d of %(max)d connections in use"), counts)
        if status != Status.OK:
            message = Message(_("%(percent).0f%% of max_connections in use (%(used)d of %(max)d)"), counts)
        return self.result(status, message, values, samples)
