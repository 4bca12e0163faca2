"""gunicorn's configuration for OpsPortal: read from the project folder by default, and passed with -c by the Procfile.

Command-line options (bind, workers, timeout) still come from the command line; this file adds the server hooks
that make every web host report its own host checks (disk, memory, cpu, docker), so a host running only gunicorn
is monitored like one running a Celery worker (docs/guides/monitoring.md, "Several hosts").

The report runs in the gunicorn workers, not in the master: the master does not load Django (unless --preload), and
a thread there would hold database connections and locks at every fork of a worker (gunicorn forks at any time, to
replace a worker after max-requests or a timeout). In each worker the app is loaded and its connections are its own.
Every worker starts the loop; only the one holding the host's file lock reports (monitoring/heartbeat.py).
MONITOR_WEB_HOST_REPORT=false switches it off.

It also gives the workers of this host one request histogram for Prometheus (docs/guides/performance.md):
PROMETHEUS_MULTIPROC_DIR, VAR_DIR/prometheus unless set, is put in the environment when this file is read (before
any worker, or the app under --preload, imports prometheus-client, which reads it once at import). Each worker keeps
its histogram in a file there; the metrics endpoint adds up all of them, so counts never go back when another worker
answers. The folder is created if it is the default, checked, and emptied of the previous run's files when the
master starts (not on a reload, HUP, nor by the new master of a binary upgrade, USR2, which keep the counts); a
worker that exits is marked dead, its counts stay.
"""

import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent
MULTIPROC = "PROMETHEUS_MULTIPROC_DIR"


def _read_env_file():
    """The .env file, as opsportal/settings.py reads it (the real environment wins): VAR_DIR and the folder may be
    set there, and the workers must see the folder chosen here."""
    env_file = os.environ.get("ENV_FILE", str(BASE_DIR / ".env"))
    if env_file and Path(env_file).is_file():
        import environ

        environ.Env.read_env(env_file)


_read_env_file()
_DEFAULT_MULTIPROC = not os.environ.get(MULTIPROC, "").strip()
if _DEFAULT_MULTIPROC:
    os.environ[MULTIPROC] = str(Path(os.environ.get("VAR_DIR") or BASE_DIR / "var").resolve() / "prometheus")
else:
    os.environ[MULTIPROC] = os.path.abspath(os.environ[MULTIPROC])  # workers may change directory


def on_starting(server):
    """In the master, before the workers: create (if the default), check and empty the histogram folder."""
    folder = Path(os.environ[MULTIPROC])
    problem = None
    if _DEFAULT_MULTIPROC:
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            problem = f"cannot create it: {exc}"
    if problem is None:
        from opsportal.lib.config import multiproc_dir_problem  # the settings' own check

        problem = multiproc_dir_problem(folder)
    if problem is not None:
        message = f"{MULTIPROC}={folder}: {problem}"
        server.log.error(message)
        raise RuntimeError(message)  # gunicorn prints "Error: ..." and exits with status 1
    if server.master_pid:  # a new master started by USR2 (binary upgrade) next to the old one: keep counting on
        server.log.info("request histogram of all workers in %s, with the previous master's", folder)
        return
    for stale in folder.glob("*.db"):  # the previous run's workers: a restart starts the counters from zero
        stale.unlink()
    server.log.info("request histogram of all workers in %s", folder)


def child_exit(server, worker):
    """In the master, after a worker exited (or was killed): prometheus-client's bookkeeping for a dead process.
    Its histogram file stays, so the counts it served stay in every later scrape."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


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
