"""gunicorn's configuration for OpsPortal: read from the project folder by default, and passed with -c by the Procfile.

Command-line options (bind, workers, timeout) still come from the command line; this file adds the server hooks
that make every web host report its own host checks (disk, memory, cpu, docker), so a host running only gunicorn
is monitored like one running a Celery worker (docs/guides/monitoring.md, "Several hosts").

The report runs in the gunicorn workers, not in the master: the master does not load Django (unless --preload), and
a thread there would hold database connections and locks at every fork of a worker (gunicorn forks at any time, to
replace a worker after max-requests or a timeout). In each worker the app is loaded and its connections are its own.
Every worker starts the loop; only the one holding the host's file lock reports (monitoring/heartbeat.py).
MONITOR_WEB_HOST_REPORT=false switches it off.
"""


def post_worker_init(worker):
    """In each worker, after the app is loaded: start the host-report loop. Never stops the worker from serving."""
    try:
        from monitoring.heartbeat import web_host_report_start

        web_host_report_start()
    except Exception:
        worker.log.exception("the web host report could not start; this worker serves without it")


def worker_exit(server, worker):
    """In each worker, as it exits: stop the loop and release the host's lock for another worker."""
    import sys

    heartbeat = sys.modules.get("monitoring.heartbeat")  # not imported: nothing was started
    if heartbeat is not None:
        heartbeat.web_host_report_stop()
