"""The embedded default under the load of its own processes: web, worker and beat of the Procfile on SQLite and the
filesystem broker, nothing configured but a short snapshot interval, a few HTTP requests a second, and a second beat
(the duplicate tick of an operator who started two). Every interval gets its snapshot and no process ever reports
"database is locked" (issue 15, item 6: deferred transactions that read, then write, failed 8 of 8 snapshots).

Duration: five minutes after the first snapshot, as the issue asks, with a 5 s snapshot interval: about 60 intervals
meet the heartbeat (every 30 s), beat's schedule writes (its database scheduler syncs every 3 minutes), alert
evaluation and request timing. On the unchanged settings the first lock error came within the first few ticks.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from datetime import datetime
from pathlib import Path

import httpx
import pytest

from tests.conftest import free_port, wait_for
from tests.opsportal.embedded import ROOT, clean_env, manage

pytestmark = pytest.mark.faults

INTERVAL = 5.0
RUN_FOR = 300.0


def _snapshot_times(database: Path) -> list[datetime]:
    try:
        with sqlite3.connect(database, timeout=30) as db:
            rows = db.execute("select taken_at from monitoring_healthsnapshot order by taken_at").fetchall()
    except sqlite3.OperationalError:
        return []
    return [datetime.fromisoformat(row[0]) for row in rows]


def _light_load(url: str, stop: threading.Event, answers: list[int], errors: list[str]) -> None:
    """About four requests a second: the login page and the health endpoint, as a browser and a probe would."""
    with httpx.Client(timeout=10) as client:
        while not stop.is_set():
            for path in ("/admin/login/", "/api/system/health/live"):
                try:
                    answers.append(client.get(url + path).status_code)
                except httpx.HTTPError as exc:
                    answers.append(0)
                    errors.append(f"{path}: {exc!r}")
            stop.wait(0.5)


@pytest.mark.timeout(600)  # five minutes of running, plus migrate and start-up
def test_embedded_default_takes_a_snapshot_every_interval_with_no_database_lock(tmp_path: Path):
    var_dir = tmp_path / "var"
    interval = {"MONITOR_SNAPSHOT_INTERVAL": f"{INTERVAL:.0f}s"}
    subprocess.run([sys.executable, "scripts/ensure_secret_key.py"], cwd=ROOT, env=clean_env(var_dir), check=True)
    manage(var_dir, "migrate", "--noinput", **interval)  # the default schedules are written with this interval
    port = free_port()
    venv_bin = str(Path(sys.executable).parent)
    env = clean_env(var_dir, WEB_PORT=str(port), WEB_WORKERS="2", PATH=f"{venv_bin}:{os.environ['PATH']}", **interval)
    log = tmp_path / "honcho.log"
    with log.open("wb") as out:  # the Procfile's processes, as `make run` starts them; beat twice
        processes = subprocess.Popen(
            [str(Path(venv_bin) / "honcho"), "--procfile", "Procfile", "--app-root", ".", "start",
             "--concurrency", "web=1,worker=1,beat=2"],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )
    stop, answers, errors = threading.Event(), [], []
    load = threading.Thread(target=_light_load, args=(f"http://127.0.0.1:{port}", stop, answers, errors), daemon=True)
    database = var_dir / "opsportal.sqlite3"
    try:
        wait_for(lambda: _snapshot_times(database), timeout=120, interval=0.5, what="the first snapshot")
        load.start()
        time.sleep(RUN_FOR)
    finally:
        stop.set()
        if load.ident is not None:  # its last request ends before the processes are stopped (one in flight at the
            load.join(timeout=15)  # SIGINT was counted as an error: seen once in a full run)
        os.killpg(processes.pid, signal.SIGINT)
        try:
            processes.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(processes.pid, signal.SIGKILL)
            processes.wait()
    output = log.read_text(errors="replace")
    assert "database is locked" not in output
    assert "raised unexpected" not in output  # no task failed for any other reason either
    assert answers and set(answers) == {200}, (sorted(set(answers)), errors)
    taken = _snapshot_times(database)
    gaps = [(later - earlier).total_seconds() for earlier, later in zip(taken, taken[1:], strict=False)]
    # one snapshot per interval: none missed (a late tick is no gap of two intervals), none duplicated
    assert len(taken) >= RUN_FOR / INTERVAL - 1, (len(taken), gaps)
    assert all(INTERVAL / 2 <= gap < INTERVAL * 2 for gap in gaps), gaps
