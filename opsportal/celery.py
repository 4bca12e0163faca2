"""The Celery application: two queues, routed by task.

- `backups`: long jobs (backup, restore, drill). One task at a time per worker process (prefetch 1). Messages are
  acknowledged on receipt: a worker lost mid-run takes its message with it, and the reaper marks the lost run failed
  (a half-finished backup is never re-run by itself); a message delivered twice finds its run already claimed and
  does nothing.
- `monitoring`: short periodic jobs (snapshots, heartbeats, alert evaluation and notifications).
- `probes`: performance probes (a page probe holds a process for 7-10 s), kept off the monitoring queue so alert
  evaluation never waits behind them; at most PERF_PROBE_CONCURRENCY run at once (performance/slots.py), so a
  worker taking both queues (the Procfile's) always has a process left for monitoring.

In production run one worker per queue so a long backup never delays a health snapshot (docs/guides/operations.md).
"""

from __future__ import annotations

import contextlib
import os

from celery import Celery
from celery.signals import worker_process_init
from kombu import Exchange, Queue
from kombu.transport import TRANSPORT_ALIASES

# filesystem:// (the embedded default) through a transport that never shows a worker a half-written message
# (opsportal/lib/filesystem_broker.py).
TRANSPORT_ALIASES["filesystem"] = "opsportal.lib.filesystem_broker:Transport"

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "opsportal.settings")

BACKUPS_QUEUE = "backups"
MONITORING_QUEUE = "monitoring"
PROBES_QUEUE = "probes"

app = Celery("opsportal")
app.config_from_object("django.conf:settings", namespace="CELERY")


@worker_process_init.connect
def _leave_the_worker_process_group(**_: object) -> None:
    """A pool process gets its own process group, so a signal sent to the worker's group reaches the main process only.

    Ctrl-C under `make run` (honcho signals each process group) and `kill -TERM -<pgid>` would otherwise also kill the
    pool processes directly; one killed while it held the pool's queue lock left the main process waiting for that
    lock in its warm shutdown until it was SIGKILLed. The main process stops them itself, and if it is killed they
    die with it (Celery sets PR_SET_PDEATHSIG to SIGKILL in each pool process).
    """
    with contextlib.suppress(OSError):  # already a group leader, or no process groups here: nothing to leave
        os.setpgid(0, 0)


def _queue(name: str) -> Queue:
    # Its own exchange and routing key: a bare Queue(name) is bound to the default exchange with the default key, so
    # every queue would share one binding and each message would land in all of them.
    return Queue(name, Exchange(name, type="direct"), routing_key=name)


app.conf.update(
    task_queues=[_queue(BACKUPS_QUEUE), _queue(MONITORING_QUEUE), _queue(PROBES_QUEUE)],
    task_default_queue=MONITORING_QUEUE,
    task_routes={
        "backups.*": {"queue": BACKUPS_QUEUE},
        "monitoring.*": {"queue": MONITORING_QUEUE},
        "performance.tasks.probe_target": {"queue": PROBES_QUEUE},  # an exact name wins over the glob below
        "performance.*": {"queue": MONITORING_QUEUE},
        "alerting.*": {"queue": MONITORING_QUEUE},
    },
    worker_prefetch_multiplier=1,
    task_acks_late=False,
    # Outcomes are written on records (BackupRun, HealthSnapshot, ...), never read from a result backend.
    task_ignore_result=True,
    task_store_errors_even_if_ignored=False,
    broker_connection_retry_on_startup=True,
    beat_scheduler="django_celery_beat.schedulers:DatabaseScheduler",
    worker_send_task_events=False,
    # The worker's timer thread sleeps up to this long between entries and its stop waits for it (default 1 s).
    worker_timer_precision=0.2,
    timezone="UTC",
)
app.autodiscover_tasks()
