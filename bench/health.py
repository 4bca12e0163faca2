"""Benchmark: /api/system/health with its checks on every request against django-health-check, like for like.

Before measuring: one real backup (`manage.py backup`), a Celery worker on every queue and beat (as the Procfile
runs them), so the endpoint answers 200 and every check runs its real path. Both servers are gunicorn started as
README's production command (`-c gunicorn.conf.py`) with the same workers and threads. Targets, measured in
interleaved rounds (every target once per round, the order rotated): ours, django-health-check with the checks
that overlap ours (database, cache, Redis, disk of / and of the backup folder, memory), the same plus its Celery
check (a broadcast ping per request), and our /health/live (no checks). Every answer's status is asserted (200) and
printed; median and best of the rounds, the ratios, the whole process tree's RSS and the load average are printed.
Then seeds 365 days of history with `seeddemo` and times the 1-year dashboard query.

    .venv/bin/pip install --no-deps --target /tmp/hc-health -r bench/requirements-health.txt
    .venv/bin/python bench/health.py --healthcheck-path /tmp/hc-health [--rounds 3] [--seconds 10]
                                     [--connections 16] [--skip-history] [--raw-days 7]

HEALTH_CACHE_TTL is 0s (checks on every request) unless set in the environment. Uses its own database
(BENCH_DATABASE_URL, default postgres://postgres@127.0.0.1:5432/opsportal_bench, created if missing) and Redis db
(BENCH_REDIS_URL, default redis://127.0.0.1:6379/12).
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
    """gunicorn as README's production command runs it: `-c gunicorn.conf.py` (web host report, Prometheus folder)."""

    def __init__(self, env: dict[str, str], *, workers: int, threads: int, label: str, root: Path = ROOT) -> None:
        self.label = label
        self.port = free_port()
        self.process = subprocess.Popen(
            [str(root / ".venv/bin/gunicorn"), "opsportal.wsgi", "-c", "gunicorn.conf.py",
             "--bind", f"127.0.0.1:{self.port}", "--workers", str(workers), "--threads", str(threads),
             "--timeout", "60", "--log-level", "error"],
            cwd=root, env=env,
        )
        self.base = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                httpx.get(f"{self.base}/api/system/health/live", timeout=1)
                return
            except httpx.HTTPError:
                time.sleep(0.2)
        raise SystemExit(f"gunicorn ({label}) did not start")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=20)


def tree_rss_mb(pid: int) -> float:
    """Resident memory of a process and all its descendants (gunicorn master + workers), in MB."""
    import psutil

    try:
        root = psutil.Process(pid)
        processes = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0.0
    total = 0
    for process in processes:
        try:
            total += process.memory_info().rss
        except psutil.NoSuchProcess:
            continue
    return total / 1e6


def load(url: str, *, seconds: float, connections: int, headers: dict[str, str]) -> dict:
    """`connections` keep-alive clients sending GETs back to back for `seconds`; latency of each, wall time of all."""
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    lock = threading.Lock()
    stop_at = time.perf_counter() + seconds

    def client() -> None:
        own: list[float] = []
        codes: dict[int, int] = {}
        with httpx.Client(headers=headers, timeout=30) as session:
            while time.perf_counter() < stop_at:
                started = time.perf_counter()
                response = session.get(url)
                own.append(time.perf_counter() - started)
                codes[response.status_code] = codes.get(response.status_code, 0) + 1
        with lock:
            latencies.extend(own)
            for code, count_ in codes.items():
                statuses[code] = statuses.get(code, 0) + count_

    threads = [threading.Thread(target=client) for _ in range(connections)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    latencies.sort()
    return {
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": latencies[max(0, int(len(latencies) * 0.99) - 1)] * 1000,
        "rps": len(latencies) / wall,
        "statuses": statuses,
    }


def load_wrk(url: str, *, seconds: int, connections: int, token: str) -> dict:
    """The same measurement with wrk (Debian package), which costs the shared CPUs far less than Python clients."""
    threads = min(2, connections)  # wrk needs at least one connection per thread
    env = {**os.environ, "WRK_BEARER": token}
    done = subprocess.run(["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{seconds}s", "--timeout", "30s",
                           "-s", str(ROOT / "bench" / "wrk_report.lua"), url],
                          env=env, capture_output=True, text=True, check=True)
    line = next(line for line in done.stdout.splitlines() if line.startswith("RESULT"))
    count, duration_us, p50_us, p99_us, non_2xx_3xx, socket_errors = (float(part) for part in line.split()[1:])
    return {"p50_ms": p50_us / 1000, "p99_ms": p99_us / 1000, "rps": count / (duration_us / 1e6),
            "statuses": {"non-2xx/3xx": int(non_2xx_3xx), "socket errors": int(socket_errors), "all": int(count)}}


def measure(args, url: str, token: str) -> dict:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    for _ in range(10):  # warm-up: imports, connection pools, the migrations cache
        httpx.get(url, headers=headers, timeout=30)
    if args.generator == "wrk":
        return load_wrk(url, seconds=args.seconds, connections=args.connections, token=token)
    return load(url, seconds=args.seconds, connections=args.connections, headers=headers)


def start_celery(env: dict[str, str]) -> list[subprocess.Popen]:
    """A real worker on every queue and beat, as the Procfile runs them: the celery check then answers ok."""
    logs = ROOT / "var" / "bench"
    logs.mkdir(parents=True, exist_ok=True)
    celery = str(ROOT / ".venv/bin/celery")
    worker = subprocess.Popen(
        [celery, "-A", "opsportal", "worker", "-Q", "backups,monitoring,probes", "--concurrency", "2",
         "-n", f"bench-health-{os.getpid()}@%h", "--loglevel", "WARNING"],
        cwd=ROOT, env=env, stdout=open(logs / "worker.log", "w"), stderr=subprocess.STDOUT)  # noqa: SIM115
    beat = subprocess.Popen(
        [celery, "-A", "opsportal", "beat", "--loglevel", "WARNING", "-s", str(logs / "beat-schedule")],
        cwd=ROOT, env=env, stdout=open(logs / "beat.log", "w"), stderr=subprocess.STDOUT)  # noqa: SIM115
    return [worker, beat]


def wait_healthy(server: Server, *, timeout: float = 120) -> dict:
    """Until our endpoint answers 200 with the celery check ok (worker heartbeats and a beat tick recorded)."""
    headers = {"Authorization": f"Bearer {TOKEN}"}
    deadline = time.monotonic() + timeout
    while True:
        response = httpx.get(f"{server.base}/api/system/health", headers=headers, timeout=30)
        body = response.json()
        checks = {check["name"]: check["status"] for check in body.get("checks", [])}
        if response.status_code == 200 and checks.get("celery") == "ok":
            return body
        if time.monotonic() > deadline:
            raise SystemExit(f"the system did not become healthy: HTTP {response.status_code}, {checks}")
        time.sleep(2)


def seed_backup(env: dict[str, str]) -> None:
    """One complete backup, so the backups check runs its real path (age against the RPO, size, last drill)."""
    done = subprocess.run([sys.executable, "manage.py", "backup"], cwd=ROOT, env=env, capture_output=True,
                          text=True)
    if done.returncode != 0:
        raise SystemExit(f"manage.py backup failed: {done.stderr[-2000:]}")


def show(label: str, figures: list[dict]) -> None:
    rates = [item["rps"] for item in figures]
    p99 = statistics.median(item["p99_ms"] for item in figures)
    statuses: dict = {}
    for item in figures:
        for code, count in item["statuses"].items():
            statuses[code] = statuses.get(code, 0) + count
    print(f"{label:<58} median {statistics.median(rates):7.1f} req/s  best {max(rates):7.1f} req/s  "
          f"p99 {p99:7.1f} ms  HTTP {statuses}")


def bench_endpoints(args, database_url: str, redis_url: str) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    ttl = os.environ.get("HEALTH_CACHE_TTL", "0s")
    # The load this benchmark (and a shared machine) puts on two cores is above the cpu check's default thresholds:
    # they are raised so the answer stays 200; the check still runs on every request.
    common = {"HEALTH_CACHE_TTL": ttl, "BACKUP_DIR": str(ROOT / "var" / "bench" / "backups"),
              "MONITOR_LOAD_WARNING": "50", "MONITOR_LOAD_CRITICAL": "100"}
    env = bench_env(database_url, redis_url, **common)
    if not args.skip_backup:
        seed_backup(env)
    helpers = start_celery(env)
    servers: dict[str, Server] = {}
    try:
        servers["ours"] = Server(env, workers=args.workers, threads=args.threads, label="ours")
        theirs_env = bench_env(database_url, redis_url, DJANGO_SETTINGS_MODULE="bench.settings_healthcheck",
                               PYTHONPATH=os.pathsep.join(filter(None, [args.healthcheck_path,
                                                                          os.environ.get("PYTHONPATH")])),
                               **common)
        servers["theirs"] = Server(theirs_env, workers=args.workers, threads=args.threads, label="theirs")
        if args.compare_checkout:
            previous = Path(args.compare_checkout).resolve()
            servers["previous"] = Server({**env, "VAR_DIR": str(previous / "var" / "bench")}, workers=args.workers,
                                         threads=args.threads, label="previous", root=previous)
        detail = wait_healthy(servers["ours"])
        targets = {
            "ours": (servers["ours"], "/api/system/health", TOKEN, 200),
            "theirs": (servers["theirs"], "/ht/?format=json", "", 200),
            "theirs+celery": (servers["theirs"], "/ht-celery/?format=json", "", 200),
            "live": (servers["ours"], "/api/system/health/live", "", 200),
        }
        if "previous" in servers:
            targets["previous"] = (servers["previous"], "/api/system/health", TOKEN, 200)
        order = [name for name in targets if name not in args.skip]
        figures: dict[str, list[dict]] = {name: [] for name in order}
        rss: dict[str, float] = dict.fromkeys(servers, 0.0)
        for round_index in range(args.rounds):
            # Interleaved: every target once per round, the order rotated so none always runs first.
            rotated = order[round_index % len(order):] + order[:round_index % len(order)]
            for name in rotated:
                server, path, token, expected = targets[name]
                result = measure(args, f"{server.base}{path}", token)
                unexpected = {code: count for code, count in result["statuses"].items() if code != expected}
                if unexpected and args.generator == "python":
                    now = httpx.get(f"{server.base}{path}", headers={"Authorization": f"Bearer {token}"} if token
                                    else {}, timeout=30).text
                    raise SystemExit(f"{name}: unexpected HTTP statuses {unexpected} (expected only {expected}); "
                                     f"now: {now[:3000]}")
                figures[name].append(result)
                for label, running in servers.items():
                    rss[label] = max(rss[label], tree_rss_mb(running.process.pid))
                print(f"round {round_index + 1} {name:<14} {result['rps']:7.1f} req/s  HTTP {result['statuses']}",
                      flush=True)
        after = httpx.get(f"{servers['ours'].base}/api/system/health", headers=headers, timeout=30)
    finally:
        for server in servers.values():
            server.stop()
        for helper in helpers:
            helper.terminate()
        for helper in helpers:
            helper.wait(timeout=30)

    load1, load5, _load15 = os.getloadavg()
    print(f"\n{args.rounds} interleaved rounds of {args.seconds} s per target, {args.connections} connections "
          f"({args.generator}); both servers: gunicorn -c gunicorn.conf.py, {args.workers} workers x {args.threads} "
          f"threads; HEALTH_CACHE_TTL={ttl}, MONITOR_LOAD_WARNING/CRITICAL=50/100; "
          f"a Celery worker (all queues) and beat running; {os.cpu_count()} CPUs; "
          f"load average now {load1:.1f} / {load5:.1f} (1 / 5 min)")
    print(f"our checks: {', '.join(sorted(check['name'] for check in detail['checks']))}; "
          f"status {detail['status']} (HTTP after the run: {after.status_code})")
    for check in detail["checks"]:
        if check["status"] != "ok":
            print(f"  not ok: {check['name']}@{check['host']} {check['status']}: {check['message']}")
    labels = {
        "theirs": "django-health-check 4.8.0 (db, cache, redis, disk x2, memory)",
        "theirs+celery": "the same + celery Ping(limit=1) (broadcast per request)",
        "ours": "/api/system/health (token, all checks)",
        "live": "/api/system/health/live (no checks)",
        "previous": f"/api/system/health of {args.compare_checkout}",
    }
    for name in order:
        show(labels[name], figures[name])
    print("whole-tree RSS (gunicorn master + workers), max over the run: "
          + ", ".join(f"{label} {value:.0f} MB" for label, value in rss.items()))

    def ratio(a: str, b: str) -> str:
        if a not in figures or b not in figures:
            return "-"
        med = statistics.median(x["rps"] for x in figures[a]) / statistics.median(x["rps"] for x in figures[b])
        best = max(x["rps"] for x in figures[a]) / max(x["rps"] for x in figures[b])
        return f"median {med:.2f}x, best {best:.2f}x"

    print(f"ours / django-health-check without celery (target >= 5x): {ratio('ours', 'theirs')}")
    print(f"ours / django-health-check with celery ping: {ratio('ours', 'theirs+celery')}")
    print(f"ours / our /health/live: {ratio('ours', 'live')}")
    print(f"ours / the previous checkout: {ratio('ours', 'previous')}")


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
    parser.add_argument("--seconds", type=int, default=10, help="seconds per target and round")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (median and best are reported)")
    parser.add_argument("--skip", action="append", default=[], choices=["theirs", "theirs+celery", "live"],
                        help="leave a baseline out (repeatable)")
    parser.add_argument("--compare-checkout", default="",
                        help="another worktree (with .venv) whose /api/system/health is measured in the same rounds")
    parser.add_argument("--skip-backup", action="store_true", help="do not take the one backup seeded first")
    parser.add_argument("--healthcheck-path", default=os.environ.get("BENCH_HEALTHCHECK_PATH", ""),
                        help="folder django-health-check was installed into with pip --target (else the venv's)")
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
