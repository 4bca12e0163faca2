"""`make run` itself on the embedded default, as a newcomer runs it: with nothing configured it migrates, creates
an admin, prints the URL, the login page answers there, a worker and beat come up, and one interrupt stops all."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

import httpx

from tests.conftest import free_port, wait_for
from tests.opsportal.embedded import ROOT, clean_env


def test_make_run_serves_the_login_page_and_runs_worker_and_beat(tmp_path: Path):
    port = free_port()
    venv_bin = str(Path(sys.executable).parent)
    # the shell a newcomer has: no virtualenv on PATH, no configuration, only a private var/ folder
    path = ":".join(p for p in os.environ["PATH"].split(":") if p != venv_bin)
    env = clean_env(tmp_path, WEB_PORT=str(port), WEB_WORKERS="1", PATH=path)
    make_run = subprocess.Popen(
        ["make", "run"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(iter(make_run.stdout.readline, b"")), daemon=True)
    reader.start()

    def seen(text: str) -> bool:
        return any(text in line.decode(errors="replace") for line in list(lines))

    try:

        def login_page():
            try:
                return httpx.get(f"http://127.0.0.1:{port}/admin/login/", timeout=2)
            except httpx.HTTPError:
                return None

        response = wait_for(login_page, timeout=90, interval=0.5, what="the login page from gunicorn")
        wait_for(lambda: seen(" ready."), timeout=60, what="the Celery worker to be ready")
        wait_for(lambda: seen("beat: Starting..."), timeout=60, what="Celery beat to start")
        assert response.status_code == 200
        assert "OpsPortal" in response.text
        assert seen(f"open http://127.0.0.1:{port}/admin/")
        assert seen("Its password, shown only this once:")
        css = httpx.get(f"http://127.0.0.1:{port}/static/admin/css/base.css", timeout=5)
        assert css.status_code == 200  # admin CSS served with DEBUG off (whitenoise)
        # a quiet start: no warning a newcomer can do nothing about, and a banner that tells the truth
        assert not seen("models.W039") and not seen("No hostname was supplied")
        assert seen("backups          exchange=backups(direct) key=backups")
    finally:
        os.killpg(make_run.pid, signal.SIGINT)
        make_run.wait(timeout=60)
        reader.join(timeout=10)
    assert seen("worker.1 stopped") and seen("beat.1 stopped") and seen("web.1 stopped")
    # one Ctrl-C stops everything: nothing of ours still listens on the port
    with socket.socket() as sock:
        assert sock.connect_ex(("127.0.0.1", port)) != 0
