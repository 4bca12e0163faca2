from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def pytest_configure(config) -> None:
    """Load every admin.py before collection: the admin's modules load with the URLconf (opsportal/apps.py), and
    tests parametrised over admin.site's registry must see every ModelAdmin."""
    import django
    from django.contrib import admin

    django.setup()
    admin.autodiscover()


@pytest.fixture(autouse=True)
def _language_back_to_default() -> Iterator[None]:
    """Each test starts in the default language: a request with Accept-Language: ja activates Japanese for the
    thread (LocaleMiddleware), and a later test calling a command or a service directly would read Japanese."""
    yield
    from django.utils import translation

    translation.deactivate()


def free_port() -> int:
    """A free loopback port (bound, then released): a server can take it; until one does, connecting is refused."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def pg_dumps_running(parent_pid: int | None = None) -> list:
    """The pg_dump processes dumping under `parent_pid` (default: this process), not the short-lived
    `pg_dump --version` a database source runs first; a child that exits while we look is skipped, and so is one
    whose command line is empty: a process that is exiting (not yet a zombie) has none, and it may be that
    `pg_dump --version` (tests/test_pg_dumps_running.py)."""
    import psutil

    try:
        children = psutil.Process(parent_pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []
    found = []
    for child in children:
        try:
            if child.name() != "pg_dump":
                continue
            command = child.cmdline()
            if command and "--version" not in command:
                found.append(child)
        except psutil.NoSuchProcess:
            continue
    return found


def wait_for(
    predicate: Callable[[], object], *, timeout: float = 30.0, interval: float = 0.2, what: str = ""
) -> object:
    """Poll until predicate() is truthy; fail loudly with `what` after timeout seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    pytest.fail(f"timed out after {timeout:.0f}s waiting for {what or predicate}")


@pytest.fixture
def throwaway_postgres() -> Iterator:
    """A started PostgreSQL cluster of this test's own (tests/pg_cluster.py): stop it, kill it, create databases in
    it; it is removed after the test."""
    from tests.pg_cluster import throwaway_cluster

    with throwaway_cluster() as cluster:
        yield cluster


@pytest.fixture(scope="module")
def module_throwaway_postgres() -> Iterator:
    """The same, shared by the tests of one module (initdb costs a few seconds); a test that stops it must start it
    again (see ThrowawayPostgres.running)."""
    from tests.pg_cluster import throwaway_cluster

    with throwaway_cluster() as cluster:
        yield cluster


def test_database_env(**extra: str) -> dict[str, str]:
    """The environment for a subprocess (manage.py, a worker) that must use this test run's database and broker."""
    from django.db import connection

    db = connection.settings_dict
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "TEST_DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "PYTHONUNBUFFERED": "1",
        **extra,
    }
    if db.get("PASSWORD"):
        env["PGPASSWORD"] = db["PASSWORD"]
    return env


test_database_env.__test__ = False  # a helper, not a test (modules import it by name)


class Gunicorn:
    """A gunicorn master started by the `gunicorn_server` fixture; its output (and its workers') goes to `log`."""

    def __init__(self, process: subprocess.Popen, port: int, var_dir: Path, log: Path) -> None:
        self.process, self.port, self.var_dir, self.log = process, port, var_dir, log

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self, timeout: float = 20) -> int:
        self.process.terminate()
        return self.process.wait(timeout=timeout)


@pytest.fixture
def gunicorn_server(tmp_path) -> Iterator[Callable[..., Gunicorn]]:
    """Start gunicorn as the Procfile does (opsportal.wsgi with -c gunicorn.conf.py) against the test database,
    each with its own VAR_DIR under tmp_path; stopped gracefully after the test."""
    started: list[Gunicorn] = []

    def start(*, workers: int = 2, server_class: type[Gunicorn] = Gunicorn, wait: bool = True,
              var_dir: Path | None = None, **extra_env: str) -> Gunicorn:
        port = free_port()
        var_dir = var_dir or tmp_path / f"var{len(started)}"
        log = tmp_path / f"gunicorn{len(started)}.log"
        env = test_database_env(**{"VAR_DIR": str(var_dir), **extra_env})
        with log.open("wb") as out:
            process = subprocess.Popen(
                [str(ROOT / ".venv/bin/gunicorn"), "opsportal.wsgi", "-c", "gunicorn.conf.py",
                 "--bind", f"127.0.0.1:{port}", "--workers", str(workers), "--timeout", "30"],
                cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
            )
        server = server_class(process, port, var_dir, log)
        started.append(server)

        def listening() -> bool:
            with socket.socket() as probe:
                return probe.connect_ex(("127.0.0.1", port)) == 0

        if wait:
            wait_for(listening, timeout=30, what="gunicorn to listen")
        return server

    yield start
    for server in started:  # gracefully: a killed master leaves its workers running (and reporting) a while
        if server.process.poll() is None:
            try:
                server.stop()
            except subprocess.TimeoutExpired:
                server.process.kill()
                server.process.wait()


@pytest.fixture
def celery_worker_process(django_db_blocker, settings) -> Iterator[Callable[..., subprocess.Popen]]:
    """Start real Celery worker subprocesses against the test database and the test broker; stop them after."""

    started: list[subprocess.Popen] = []

    def start(*, queues: str = "backups,monitoring", extra_env: dict[str, str] | None = None,
              concurrency: int | None = None) -> subprocess.Popen:
        """One worker: a solo pool by default; `concurrency` gives a prefork pool of that size, as the Procfile's."""
        env = test_database_env(**(extra_env or {}))
        pool = ["--pool", "solo"] if concurrency is None else ["--pool", "prefork", "--concurrency", str(concurrency)]
        command = [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "opsportal",
            "worker",
            "-Q",
            queues,
            *pool,
            "--loglevel",
            "INFO",
            "--without-mingle",
            "--without-gossip",
            "-n",
            f"test{len(started)}@%h",
        ]
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        started.append(process)
        return process

    from opsportal.celery import app

    with django_db_blocker.unblock():
        app.control.purge()  # messages left by an earlier, interrupted run must not reach this test's worker
    yield start
    for process in started:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
