"""`make run` itself on the embedded default, as a newcomer runs it: with nothing configured it migrates, creates
an admin, prints the URL, the login page answers there, a worker and beat come up, and one Ctrl-C typed on its
terminal (a real pseudo-terminal) stops all cleanly: the worker's own warm shutdown, no SIGKILL, exit status 0."""

from __future__ import annotations

import fcntl
import os
import pty
import socket
import subprocess
import sys
import termios
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
    # on a terminal of its own, as typed in a shell: Ctrl-C signals the terminal's foreground process group
    controller, terminal = pty.openpty()

    def take_the_terminal() -> None:
        os.setsid()
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    make_run = subprocess.Popen(
        ["make", "run"], cwd=ROOT, env=env, stdin=terminal, stdout=terminal, stderr=terminal,
        preexec_fn=take_the_terminal,
    )
    os.close(terminal)
    lines: list[bytes] = []

    def read() -> None:
        while True:
            try:
                chunk = os.read(controller, 65536)
            except OSError:  # the terminal closed: everything on it exited
                return
            if not chunk:
                return
            lines.append(chunk)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()

    def seen(text: str) -> bool:
        return text in b"".join(lines).decode(errors="replace")

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
        os.write(controller, b"\x03")  # Ctrl-C
        try:
            code = make_run.wait(timeout=60)
        finally:
            reader.join(timeout=10)
            os.close(controller)
    assert seen("worker.1 stopped") and seen("beat.1 stopped") and seen("web.1 stopped")
    assert seen("worker: Warm shutdown")
    # the pool processes were stopped by the worker, not killed under it by the group's signal (which once left the
    # worker waiting for a lock one of them held, until it was SIGKILLed)
    assert not seen("exited with 'signal 15 (SIGTERM)'") and not seen("SIGKILL")
    # make saw a clean exit: no "Interrupt", no "Error 130"
    assert code == 0 and not seen("make: ***"), b"".join(lines)[-2000:].decode(errors="replace")
    # one Ctrl-C stops everything: nothing of ours still listens on the port
    with socket.socket() as sock:
        assert sock.connect_ex(("127.0.0.1", port)) != 0
