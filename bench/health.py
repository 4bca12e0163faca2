"""Benchmark: /api/system/health and /api/system/metrics against django-health-check, and the 1-year history query.

Serves the portal with gunicorn (same gunicorn settings for both), loads each endpoint with a bounded Python load
generator at 16 connections for a fixed number of requests, and prints p50/p99 latency, requests/s and the ratio
against django-health-check measured in the same run. Then seeds 365 days of history with `seeddemo` and times the
1-year dashboard query (daily rollups of every demo series plus check status history).

    .venv/bin/pip install -r bench/requirements-health.txt
    .venv/bin/python bench/health.py [--generator wrk|python] [--seconds 15 | --requests 2000] [--connections 16]
                                     [--skip-history] [--raw-days 7]

Uses its own database (BENCH_DATABASE_URL, default postgres://postgres@127.0.0.1:5432/opsportal_bench, created
if missing) and Redis db (BENCH_REDIS_URL, default redis://127.0.0.1:6379/12).
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "bench-token-0123456789abcdef0123456789"
ROLLUP_TABLES = ["monitoring_metricrollup", "monitoring_checkrollup", "monitoring_metricdailyrollup",
                 "monitoring_checkdailyrollup"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def bench_env(database_url: str, redis_url: str, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "ENV_FILE": "",
        "DATABASE_URL": database_url,
        "CELERY_BROKER_URL": redis_url,
        "CACHE_URL": redis_url.replace("redis://", "rediscache://"),
        "SECRET_KEY": "bench-secret-key-0123456789-0123456789-0123456789",
        "HEALTH_TOKEN": TOKEN,
        "METRICS_TOKEN": TOKEN,
        "VAR_DIR": str(ROOT / "var" / "bench"),
        "LOG_LEVEL": "ERROR",
        **extra,
    }


def ensure_database(database_url: str, env: dict[str, str]) -> None:
    name = database_url.rsplit("/", 1)[1]
    admin_url = database_url.rsplit("/", 1)[0] + "/postgres"
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as connection:
        if not connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            connection.execute(f'CREATE DATABASE "{name}"')
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, env=env, check=True)


class Server:
    def __init__(self, env: dict[str, str], *, workers: int, threads: int) -> None:
        self.port = free_port()
        self.process = subprocess.Popen(
            [str(ROOT / ".venv/bin/gunicorn"), "opsportal.wsgi", "--bind", f"127.0.0.1:{self.port}",
             "--workers", str(workers), "--threads", str(threads), "--timeout", "60", "--log-level", "error"],
            cwd=ROOT, env=env,
        )
        self.base = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                httpx.get(f"{self.base}/api/system/health/live", timeout=1)
                return
            except httpx.HTTPError:
                time.sleep(0.2)
        raise SystemExit("gunicorn did not start")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=20)


def load(url: str, *, requests: int, connections: int, headers: dict[str, str]) -> dict[str, float]:
    """`requests` GETs spread over `connections` keep-alive clients; latency of each, wall time of all."""
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    lock = threading.Lock()
    per_client = [requests // connections + (1 if index < requests % connections else 0)
                  for index in range(connections)]

    def client(count: int) -> None:
        own: list[float] = []
        codes: dict[int, int] = {}
        with httpx.Client(headers=headers, timeout=30) as session:
            for _ in range(count):
                started = time.perf_counter()
                response = session.get(url)
                own.append(time.perf_counter() - started)
                codes[response.status_code] = codes.get(response.status_code, 0) + 1
        with lock:
            latencies.extend(own)
            for code, count_ in codes.items():
                statuses[code] = statuses.get(code, 0) + count_

    for _ in range(20):  # warm-up: imports, connection pools, the migrations cache
        httpx.get(url, headers=headers, timeout=30)
    threads = [threading.Thread(target=client, args=(count,)) for count in per_client]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    latencies.sort()
    return {
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": latencies[int(len(latencies) * 0.99) - 1] * 1000,
        "rps": len(latencies) / wall,
        "statuses": statuses,
    }


def load_wrk(url: str, *, seconds: int, connections: int, token: str) -> dict:
    """The same measurement with wrk (Debian package), which costs the shared CPUs far less than Python clients.

    wrk runs for a fixed duration (its threads cannot end the run after N requests), so this mode is timed.
    """
    threads = min(2, connections)  # wrk needs at least one connection per thread
    env = {**os.environ, "WRK_BEARER": token}
    for _ in range(20):
        httpx.get(url, headers={"Authorization": f"Bearer {token}"} if token else {}, timeout=30)
    done = subprocess.run(["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{seconds}s", "--timeout", "30s",
                           "-s", str(ROOT / "bench" / "wrk_report.lua"), url],
                          env=env, capture_output=True, text=True, check=True)
    line = next(line for line in done.stdout.splitlines() if line.startswith("RESULT"))
    count, duration_us, p50_us, p99_us, non_2xx_3xx, socket_errors = (float(part) for part in line.split()[1:])
    return {"p50_ms": p50_us / 1000, "p99_ms": p99_us / 1000, "rps": count / (duration_us / 1e6),
            "statuses": {"non-2xx/3xx": int(non_2xx_3xx), "socket errors": int(socket_errors), "all": int(count)}}


def measure(args, url: str, token: str) -> dict:
    if args.generator == "wrk":
        return load_wrk(url, seconds=args.seconds, connections=args.connections, token=token)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return load(url, requests=args.requests, connections=args.connections, headers=headers)


def show(label: str, figures: dict) -> None:
    print(f"{label:<44} p50 {figures['p50_ms']:7.1f} ms   p99 {figures['p99_ms']:7.1f} ms   "
          f"{figures['rps']:7.1f} req/s   HTTP {figures['statuses']}")


def bench_endpoints(args, database_url: str, redis_url: str) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    ours = Server(bench_env(database_url, redis_url), workers=args.workers, threads=args.threads)
    try:
        health = measure(args, f"{ours.base}/api/system/health", TOKEN)
        detail = httpx.get(f"{ours.base}/api/system/health", headers=headers, timeout=10).json()
        metrics = measure(args, f"{ours.base}/api/system/metrics?format=prometheus", TOKEN)
    finally:
        ours.stop()
    theirs = Server(bench_env(database_url, redis_url, DJANGO_SETTINGS_MODULE="bench.settings_healthcheck"),
                    workers=args.workers, threads=args.threads)
    try:
        baseline = measure(args, f"{theirs.base}/ht/?format=json", "")
    finally:
        theirs.stop()

    amount = f"{args.seconds} s" if args.generator == "wrk" else f"{args.requests} requests"
    print(f"\n{amount} per endpoint, {args.connections} connections ({args.generator}), gunicorn "
          f"{args.workers} workers x {args.threads} threads, {os.cpu_count()} CPUs")
    print(f"our checks: {', '.join(sorted(check['name'] for check in detail['checks']))}")
    show("django-health-check (db, cache, redis, disk x2, memory)", baseline)
    show("/api/system/health (token, all checks)", health)
    show("/api/system/metrics (Prometheus)", metrics)
    print(f"throughput ratio health/django-health-check: {health['rps'] / baseline['rps']:.2f}x "
          f"(target >= 2x); p99 target < 50 ms: {'met' if health['p99_ms'] < 50 else 'NOT met'}")


def bench_history(args, database_url: str, redis_url: str) -> None:
    env = bench_env(database_url, redis_url)
    if not args.query_only:
        seed_history(args, env)
    vacuum = [item for table in ROLLUP_TABLES for item in ("-c", f"VACUUM ANALYZE {table}")]
    subprocess.run([sys.executable, "manage.py", "dbshell", "--", *vacuum], cwd=ROOT, env=env, check=True,
                   stdout=subprocess.DEVNULL)
    query_history(env)


def seed_history(args, env: dict[str, str]) -> None:
    # Start from empty history so repeated runs measure the same amount of data.
    tables = ", ".join(["monitoring_metricsample", "monitoring_checkresult", "monitoring_healthsnapshot",
                        *ROLLUP_TABLES])
    truncate = f"from django.db import connection; connection.cursor().execute('TRUNCATE {tables}')"
    subprocess.run([sys.executable, "manage.py", "shell", "-c", truncate], cwd=ROOT, env=env, check=True)
    started = time.monotonic()
    subprocess.run([sys.executable, "manage.py", "seeddemo", "--days", "365", "--raw-days", str(args.raw_days)],
                   cwd=ROOT, env=env, check=True)
    print(f"seeddemo --days 365 --raw-days {args.raw_days}: {time.monotonic() - started:.1f} s wall")


def query_history(env: dict[str, str]) -> None:
    code = (
        "import time, statistics\n"
        "from datetime import timedelta\n"
        "from django.utils import timezone\n"
        "from monitoring.demo import demo_series, HOST_CHECKS, GLOBAL_CHECKS\n"
        "from monitoring.selectors import metric_series, metric_series_many, check_status_history\n"
        "hosts = ['web-1', 'worker-1', 'worker-2']\n"
        "series = demo_series(hosts)\n"
        "runs = []\n"
        "for _ in range(5):\n"
        "    t = time.perf_counter(); start = timezone.now() - timedelta(days=365)\n"
        "    found = metric_series_many(series=[(i.name, i.labels) for i in series], start=start)\n"
        "    points = sum(len(v) for v in found.values())\n"
        "    for name in GLOBAL_CHECKS: points += len(check_status_history(check_name=name, start=start))\n"
        "    runs.append(time.perf_counter() - t)\n"
        "one = []\n"
        "for _ in range(5):\n"
        "    t = time.perf_counter()\n"
        "    metric_series(name='cpu_percent', labels='host=demo-web-1', start=timezone.now() - timedelta(days=365))\n"
        "    one.append(time.perf_counter() - t)\n"
        "print(f'1-year dashboard query: {len(series)} series + {len(GLOBAL_CHECKS)} check histories,'\n"
        "      f' {points} points:'\n"
        "      f' median {statistics.median(runs)*1000:.0f} ms (max {max(runs)*1000:.0f} ms); one series'\n"
        "      f' median {statistics.median(one)*1000:.1f} ms; target < 300 ms:'\n"
        "      f\" {'met' if statistics.median(runs) < 0.3 else 'NOT met'}\")\n"
    )
    subprocess.run([sys.executable, "manage.py", "shell", "-c", code], cwd=ROOT, env=env, check=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=2000, help="requests per endpoint (python generator)")
    parser.add_argument("--seconds", type=int, default=15, help="seconds per endpoint (wrk)")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--generator", choices=["wrk", "python"], default="wrk" if shutil.which("wrk") else "python",
                        help="load generator: wrk when installed (apt-get install wrk), else Python threads")
    parser.add_argument("--raw-days", type=int, default=7, help="raw minute snapshots seeded (365: a full year)")
    parser.add_argument("--skip-history", action="store_true")
    parser.add_argument("--query-only", action="store_true", help="time the history query on the seeded data")
    parser.add_argument("--skip-endpoints", action="store_true")
    args = parser.parse_args()
    database_url = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/opsportal_bench")
    redis_url = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/12")
    ensure_database(database_url, bench_env(database_url, redis_url))
    if not args.skip_endpoints:
        bench_endpoints(args, database_url, redis_url)
    if not args.skip_history:
        bench_history(args, database_url, redis_url)


if __name__ == "__main__":
    main()
