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

import os

from celery import Celery
from kombu import Exchange, Queue

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "opsportal.settings")

BACKUPS_QUEUE = "backups"
MONITORING_QUEUE = "monitoring"
PROBES_QUEUE = "probes"

app = Celery("opsportal")
app.config_from_object("django.conf:settings", namespace="CELERY")



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
    timezone="UTC",
)
app.autodiscover_tasks()
