"""Every worker reports, whichever worker beat's tasks happen to reach.

A task scheduled by beat is taken by one worker, so it cannot tell which of several worker hosts are alive. Instead
each worker process (the main process, once, whatever its pool) starts a daemon thread when it is ready: every
MONITOR_HEARTBEAT_INTERVAL it records a WorkerHeartbeat per queue it consumes and runs the host checks (disk,
memory, cpu, docker) on its own host, storing them as that host's HostReport. The health view, metrics and
snapshots read those reports, so every host appears by name.
"""

from __future__ import annotations

import logging
import os
import threading

from celery.signals import worker_ready, worker_shutdown
from django.conf import settings
from django.db import close_old_connections, connections

logger = logging.getLogger(__name__)

_stop = threading.Event()


def worker_report_once(*, worker_name: str, queues: list[str]) -> None:
    from monitoring.services import host_report_record, worker_heartbeat_record

    for queue in queues:
        worker_heartbeat_record(hostname=worker_name, queue=queue, pid=os.getpid())
    host_report_record()


def _loop(worker_name: str, queues: list[str]) -> None:
    interval = settings.MONITOR_HEARTBEAT_INTERVAL.total_seconds()
    while not _stop.is_set():
        try:
            close_old_connections()
            worker_report_once(worker_name=worker_name, queues=queues)
        except Exception:
            logger.exception("worker heartbeat failed")
        finally:
            connections.close_all()
        _stop.wait(interval)


@worker_ready.connect
def start_worker_heartbeat(sender=None, **_: object) -> None:
    worker_name = getattr(sender, "hostname", None) or "unknown"
    queues = sorted(sender.app.amqp.queues.consume_from) if sender is not None else []
    _stop.clear()
    thread = threading.Thread(target=_loop, args=(worker_name, queues), name="monitoring-heartbeat", daemon=True)
    thread.start()
    logger.info("monitoring heartbeat started for %s on queues %s", worker_name, ", ".join(queues))


@worker_shutdown.connect
def stop_worker_heartbeat(**_: object) -> None:
    _stop.set()
