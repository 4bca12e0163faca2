"""End-to-end alert latency: a condition appears → FIRING notice received; it clears → RESOLVED notice received.

A real Celery worker (the Procfile's command: -Q backups,monitoring,probes, 2 processes) and a real beat run against
a throw-away database (TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/<name>; the bench creates and drops
test_<name>) and TEST_REDIS_URL. Notices go to a real local SMTP server (aiosmtpd) and a real local webhook server.
The condition is a module metric (bench/latency_module, installed with EXTRA_APPS) whose value the bench sets in a
file; the rule has for=60 s and resolve_after=60 s. Several label sets ("cases") appear at staggered moments so their
phases against the snapshot schedule differ; each is one round.

Schedules are the defaults (snapshot every MONITOR_SNAPSHOT_INTERVAL=20s, each followed by an evaluation; beat's
safety-net evaluation every ALERTING_EVALUATE_EVERY=1m) except PERF_PROBE_INTERVAL=30s: two performance targets
whose page takes --probe-seconds (8 s, a Chromium page load) to answer keep the probe queue busy all along, the
load that made alerts late. Prints, per case and as median/max, the seconds beyond `for` and `resolve_after`.

    .venv/bin/python bench/alerting_latency.py [--cases 4] [--probe-seconds 8]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
CONDITION_FILE = Path(tempfile.mkdtemp(prefix="bench-latency-")) / "condition.json"
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
os.environ["EXTRA_APPS"] = "bench.latency_module"
os.environ["BENCH_CONDITION_FILE"] = str(CONDITION_FILE)
os.environ.setdefault("PERF_PROBE_INTERVAL", "30s")

import django  # noqa: E402

django.setup()

from aiosmtpd.controller import Controller  # noqa: E402
from django.db import connection  # noqa: E402

FOR = RESOLVE_AFTER = 60.0
CASE = re.compile(r"case=(c\d+)")
notices: list[tuple[float, str, str, str]] = []  # (received at, channel, FIRING/RESOLVED, case)


def note(channel: str, text: str) -> None:
    head = re.search(r"\[(FIRING|RESOLVED|STILL FIRING)\]", text)
    case = CASE.search(text)
    if head and case:
        notices.append((time.time(), channel, head.group(1), case.group(1)))


class Inbox:
    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's hook name)
        note("email", envelope.original_content.decode(errors="replace"))
        return "250 Message accepted for delivery"


def serve(handler: type[BaseHTTPRequestHandler]) -> ThreadingHTTPServer:
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def servers(probe_seconds: float) -> tuple[int, int, int]:
    class Webhook(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            note("webhook", json.loads(body).get("title", ""))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    class SlowPage(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            time.sleep(probe_seconds)
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: object) -> None:
            pass

    with socket.socket() as probe:  # a free port for the SMTP server
        probe.bind(("127.0.0.1", 0))
        smtp_port = probe.getsockname()[1]
    Controller(Inbox(), hostname="127.0.0.1", port=smtp_port).start()
    return smtp_port, serve(Webhook).server_port, serve(SlowPage).server_port


def set_condition(values: dict[str, int]) -> None:
    tmp = CONDITION_FILE.with_suffix(".tmp")
    tmp.write_text(json.dumps(values))
    tmp.replace(CONDITION_FILE)


def start_processes(log_dir: Path) -> list[subprocess.Popen]:
    db = connection.settings_dict
    env = {**os.environ, "TEST_DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
           "PYTHONUNBUFFERED": "1"}
    celery = [sys.executable, "-m", "celery", "-A", "opsportal"]
    commands = {
        "worker": [*celery, "worker", "-Q", "backups,monitoring,probes", "--concurrency", "2", "-n", "bench@%h",
                   "--loglevel", "INFO"],
        "beat": [*celery, "beat", "--loglevel", "INFO", "--pidfile=", "-s", str(log_dir / "beat-schedule")],
    }
    return [subprocess.Popen(command, cwd=ROOT, env=env, stdout=(log_dir / f"{name}.log").open("wb"),
                             stderr=subprocess.STDOUT) for name, command in commands.items()]


def wait_notices(state: str, cases: list[str], timeout: float) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        got = {(channel, case) for _, channel, head, case in notices if head == state}
        if all((channel, case) in got for case in cases for channel in ("email", "webhook")):
            return
        time.sleep(0.5)
    print(f"  (timed out waiting for every {state} notice)")


def staggered(cases: list[str], action) -> dict[str, float]:
    """Call action(case) for each case at a random moment of its own slice of one snapshot interval."""
    from django.conf import settings

    start, at = time.time(), {}
    slice_ = settings.MONITOR_SNAPSHOT_INTERVAL.total_seconds() / len(cases)
    for index, case in enumerate(cases):
        time.sleep(max(0.0, start + index * slice_ + random.uniform(0, slice_) - time.time()))
        at[case] = time.time()
        action(case)
    return at


def latencies(state: str, since: dict[str, float], wait: float) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    for channel in ("email", "webhook"):
        for case, t0 in since.items():
            received = [t for t, ch, head, c in notices if ch == channel and head == state and c == case and t >= t0]
            if received:
                out.setdefault(channel, {})[case] = min(received) - t0 - wait
    return out


def report(title: str, found: dict[str, dict[str, float]], cases: list[str]) -> None:
    for channel, per_case in sorted(found.items()):
        values = [per_case[c] for c in cases if c in per_case]
        shown = ", ".join(f"{c} {per_case[c]:+.1f}" for c in cases if c in per_case)
        print(f"  {title} via {channel:7}: {shown}  | median {statistics.median(values):.1f} s, "
              f"max {max(values):.1f} s ({len(values)}/{len(cases)} received)")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", type=int, default=4)
    parser.add_argument("--probe-seconds", type=float, default=8.0)
    args = parser.parse_args()
    sys.stdout.reconfigure(line_buffering=True)
    from django.conf import settings

    print(f"MONITOR_SNAPSHOT_INTERVAL={settings.MONITOR_SNAPSHOT_INTERVAL.total_seconds():.0f}s "
          f"ALERTING_EVALUATE_EVERY={settings.ALERTING_EVALUATE_EVERY.total_seconds():.0f}s "
          f"PERF_PROBE_INTERVAL={settings.PERF_PROBE_INTERVAL.total_seconds():.0f}s, {args.cases} cases")
    cases = [f"c{i}" for i in range(args.cases)]
    set_condition(dict.fromkeys(cases, 0))
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    log_dir = CONDITION_FILE.parent
    processes: list[subprocess.Popen] = []
    try:
        from datetime import timedelta

        from alerting.models import AlertRule, NotificationChannel
        from monitoring.models import HealthSnapshot
        from performance.models import PerfResult, PerfTarget

        smtp_port, hook_port, page_port = servers(args.probe_seconds)
        AlertRule.objects.all().delete()
        rule = AlertRule.objects.create(name="bench condition", kind="metric", metric_name="bench_condition",
                                        comparator="gt", threshold=0.5, for_duration=timedelta(seconds=FOR),
                                        resolve_after=timedelta(seconds=RESOLVE_AFTER), repeat_interval=None)
        rule.channels.set([
            NotificationChannel.objects.create(
                name="mail", url=f"mailto://127.0.0.1:{smtp_port}?from=a@example.com&to=b@example.com&mode=insecure"),
            NotificationChannel.objects.create(name="hook", url=f"json://127.0.0.1:{hook_port}/hook"),
        ])
        PerfTarget.objects.update(enabled=False)  # the portal's own targets need a web server; ours stand for them
        for n in (1, 2):
            PerfTarget.objects.create(name=f"slow page {n}", url=f"http://127.0.0.1:{page_port}/p{n}", samples=1,
                                      budget_ms=1000)
        processes = start_processes(log_dir)
        started = time.time()
        while not HealthSnapshot.objects.exists() and time.time() - started < 120:
            time.sleep(1)
        print(f"first snapshot after {time.time() - started:.0f} s; logs in {log_dir}")

        values = dict.fromkeys(cases, 0)

        def flip(value: int):
            def action(case: str) -> None:
                values[case] = value
                set_condition(values)
            return action

        appeared = staggered(cases, flip(1))
        wait_notices("FIRING", cases, timeout=FOR + 150)
        cleared = staggered(cases, flip(0))
        wait_notices("RESOLVED", cases, timeout=RESOLVE_AFTER + 150)

        snapshots = list(HealthSnapshot.objects.filter(taken_at__isnull=False).order_by("taken_at")
                         .values_list("taken_at", flat=True))
        gaps = [(b - a).total_seconds() for a, b in zip(snapshots, snapshots[1:], strict=False)]
        print(f"{len(snapshots)} snapshots, median gap {statistics.median(gaps or [0]):.1f} s; "
              f"{PerfResult.objects.count()} probe results of {args.probe_seconds:.0f} s page loads meanwhile")
        print(f"Seconds beyond for={FOR:.0f} s (condition appeared → FIRING received) and beyond "
              f"resolve_after={RESOLVE_AFTER:.0f} s (cleared → RESOLVED received); goal ≤ 30 s:")
        report("firing  ", latencies("FIRING", appeared, FOR), cases)
        report("resolved", latencies("RESOLVED", cleared, RESOLVE_AFTER), cases)
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
        connection.creation.destroy_test_db(old_name, verbosity=0)


if __name__ == "__main__":
    main()
