"""Celery: workers alive per queue (from heartbeats, no broadcast ping), queue lengths, and beat alive.

Every worker records a heartbeat per queue it consumes every MONITOR_HEARTBEAT_INTERVAL (monitoring/heartbeat.py);
the beat-scheduled `monitoring.tasks.record_heartbeat` records a BeatTick. Reading both is two small queries.
"""

from __future__ import annotations

from datetime import timedelta

import redis
from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext_noop as _

from monitoring.checks.base import CheckOutcome, HealthCheck, MetricValue
from monitoring.checks.redis import redis_client
from monitoring.messages import Message
from monitoring.models import BeatTick, Status, WorkerHeartbeat
from monitoring.registry import register
from monitoring.sqlread import SqlRead, read_alone

HEARTBEAT_TICK = "monitoring: worker heartbeat"
# kombu's Redis transport keeps each priority level of a queue in its own list: "<queue>\x06\x16<priority>".
PRIORITY_SUFFIXES = ["", *(f"\x06\x16{step}" for step in (3, 6, 9))]


def monitored_queues() -> list[str]:
    from opsportal.celery import app

    return sorted(queue.name for queue in app.conf.task_queues or [])


# Every queue's length summed over its priority lists, in Redis: one command and one reply of one number per queue
# (a pipeline of an LLEN per list cost the health report more CPU to build and parse than the check itself).
_LENGTHS = """
local lengths = {}
local step = tonumber(ARGV[1])
for index, key in ipairs(KEYS) do
    local queue = math.floor((index - 1) / step) + 1
    lengths[queue] = (lengths[queue] or 0) + redis.call('LLEN', key)
end
return lengths
"""
_scripts: dict[redis.Redis, object] = {}


def queue_lengths(queues: list[str], *, timeout: float) -> dict[str, int] | None:
    broker = settings.CELERY_BROKER_URL
    if not broker.startswith(("redis://", "rediss://")):
        return None  # other transports have no cheap length query; the check reports workers and beat only
    client = redis_client(broker, timeout=timeout)
    keys = [queue + suffix for queue in queues for suffix in PRIORITY_SUFFIXES]
    script = _scripts.get(client)
    if script is None:
        script = _scripts[client] = client.register_script(_LENGTHS)
    try:
        counts = script(keys=keys, args=[len(PRIORITY_SUFFIXES)]) if keys else []
    except redis.exceptions.ResponseError:  # scripting disabled on this server: one LLEN per list
        pipe = client.pipeline(transaction=False)
        for key in keys:
            pipe.llen(key)
        flat = pipe.execute()
        step = len(PRIORITY_SUFFIXES)
        counts = [sum(flat[index * step:(index + 1) * step]) for index in range(len(queues))]
    return {queue: int(count) for queue, count in zip(queues, counts, strict=True)}


@register
class CeleryCheck(HealthCheck):
    name = "celery"
    uses_database = True

    def run(self) -> CheckOutcome:
        now = timezone.now()
        read = self.sql_read(now)
        if read is not None:
            return read_alone(read)
        return self._outcome(now, *_heartbeats_and_tick(now - settings.MONITOR_WORKER_STALE))

    def sql_alias(self) -> str | None:
        from django.db import connection

        return connection.alias if connection.vendor == "postgresql" else None

    def sql_read(self, now=None) -> SqlRead | None:
        """Heartbeats and beat's last tick as one read the runner may share with the other database checks
        (monitoring/sqlread.py); the queue lengths are then read from the broker."""
        from django.db import connection

        if connection.vendor != "postgresql":  # the embedded SQLite catalog: two queries, no ARRAY
            return None
        now = now or timezone.now()
        # Table names from the models, values as parameters.
        columns = [f"(SELECT last_tick FROM {BeatTick._meta.db_table} WHERE name = %s)",  # noqa: S608
                   f"ARRAY(SELECT ARRAY[hostname, queue] FROM {WorkerHeartbeat._meta.db_table}"  # noqa: S608
                   " WHERE last_seen >= %s)"]

        def finish(row: tuple, _seconds: float) -> CheckOutcome:
            tick, rows = row
            return self._outcome(now, [(hostname, queue) for hostname, queue in rows or []], tick)

        return SqlRead(connection.alias, columns, finish, [HEARTBEAT_TICK, now - settings.MONITOR_WORKER_STALE])

    def _outcome(self, now, heartbeats: list[tuple[str, str]], tick) -> CheckOutcome:
        queues = monitored_queues()
        alive: dict[str, list[str]] = {queue: [] for queue in queues}
        for hostname, queue in heartbeats:
            alive.setdefault(queue, []).append(hostname)
        beat_age = (now - tick).total_seconds() if tick else None
        lengths = queue_lengths(queues, timeout=self.timeout)

        values = {"workers": {queue: sorted(hosts) for queue, hosts in alive.items()},
                  "beat_last_tick_age_seconds": round(beat_age, 1) if beat_age is not None else None,
                  "queue_lengths": lengths}
        samples = [MetricValue("celery_workers_online", len(hosts), {"queue": queue}, "Workers with a fresh heartbeat.")
                   for queue, hosts in sorted(alive.items())]
        if beat_age is not None:
            samples.append(MetricValue("celery_beat_tick_age_seconds", beat_age, {}, "Age of the last beat tick."))
        for queue, length in (lengths or {}).items():
            samples.append(MetricValue("celery_queue_length", length, {"queue": queue}, "Messages waiting in a queue."))

        problems: list[tuple[Status, Message]] = []
        for queue in queues:
            if not alive.get(queue):
                problems.append((Status.CRITICAL, Message(_("no worker consumes the %(queue)s queue"),
                                                          {"queue": queue})))
        beat_stale = settings.MONITOR_BEAT_STALE
        if beat_age is None:
            problems.append((Status.WARNING, Message(_("celery beat has not ticked yet"))))
        elif beat_age > beat_stale.total_seconds():
            problems.append((Status.CRITICAL, Message(_("celery beat last ticked %(age)s ago"),
                                                    {"age": _duration(timedelta(seconds=beat_age))})))
        if not problems:
            summary = ", ".join(f"{queue}: {len(hosts)}" for queue, hosts in sorted(alive.items()))
            return self.ok(Message(_("workers per queue: %(summary)s; beat alive"), {"summary": summary}), values,
                           samples)
        status = Status.CRITICAL if any(level == Status.CRITICAL for level, _m in problems) else Status.WARNING
        return self.result(status, Message.join([message for _level, message in problems]), values, samples)


def _heartbeats_and_tick(since) -> tuple[list[tuple[str, str]], object]:
    """(hostname, queue) of every heartbeat seen since `since`, and beat's last tick (or None), through the ORM (the
    embedded SQLite catalog; on PostgreSQL the check reads both in one statement, CeleryCheck.sql_read)."""
    rows = list(WorkerHeartbeat.objects.filter(last_seen__gte=since).values_list("hostname", "queue"))
    return rows, BeatTick.objects.filter(name=HEARTBEAT_TICK).values_list("last_tick", flat=True).first()


def _duration(delta: timedelta) -> Message:
    seconds = int(delta.total_seconds())
    if seconds < 120:
        return Message(_("%(n)d s"), {"n": seconds})
    if seconds < 7200:
        return Message(_("%(n)d min"), {"n": seconds // 60})
    return Message(_("%(n)d h"), {"n": seconds // 3600})
