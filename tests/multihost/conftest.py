"""Four hosts on one machine: network namespaces (iproute2) joined by a bridge, each running what a real host would.

- `db`   10.77.0.1: its own PostgreSQL (initdb into a temporary folder) and its own redis-server, both listening on
  that address only;
- `web`, `backups`, `monitor` (10.77.0.2-4): the portal's processes, started with `ip netns exec` from the Procfile's
  commands; each host has its own VAR_DIR and MONITOR_HOSTNAME (namespaces share the machine's host name).

The bridge and every veth pair live inside the namespaces (none in the machine's own), so the 10.77.0.0/24 addresses
never meet the machine's network, and several runs at once do not collide: namespace names carry this process's id.
Teardown always runs: it kills every process left in each namespace (`ip netns pids`, which also finds processes that
left their process group, like Celery's pool), then deletes the namespaces, and with them the bridge and the veths.

It needs root (CAP_SYS_ADMIN, CAP_NET_ADMIN) and iproute2; without them the test fails, it does not skip.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.conftest import ROOT, wait_for

SUBNET = "10.77.0"
DB_ADDRESS = f"{SUBNET}.1"
PORTAL_HOSTS = {"web": f"{SUBNET}.2", "backups": f"{SUBNET}.3", "monitor": f"{SUBNET}.4"}
SECRET_KEY = "multihost-test-secret-key-not-for-production-0123456789abcdef"


def _run(*argv: str, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run(argv, capture_output=True, text=True)
    if check and result.returncode != 0:
        pytest.fail(f"{shlex.join(argv)} failed ({result.returncode}): {result.stderr.strip()}")
    return result


def _pg_bin_dir() -> Path:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/postgres"), key=lambda p: int(p.parent.parent.name))
    if not found:
        pytest.fail("no PostgreSQL server under /usr/lib/postgresql/*/bin (apt-get install postgresql)")
    return found[-1].parent


def procfile_command(name: str) -> str:
    for line in (ROOT / "Procfile").read_text().splitlines():
        if line.startswith(f"{name}:"):
            return line.split(":", 1)[1].strip()
    raise AssertionError(f"no {name} process in the Procfile")


@dataclass
class Process:
    name: str
    host: str
    popen: subprocess.Popen
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")


@dataclass
class Deployment:
    tag: str
    workdir: Path
    namespaces: dict[str, str] = field(default_factory=dict)  # host -> namespace name
    processes: list[Process] = field(default_factory=list)

    def hostname(self, host: str) -> str:
        """The host's MONITOR_HOSTNAME: unique per run, so reports of an earlier run never count."""
        return f"{host}-{self.tag}"

    @property
    def database_url(self) -> str:
        return f"postgres://postgres@{DB_ADDRESS}:5432/opsportal"

    def env(self, host: str, **extra: str) -> dict[str, str]:
        var_dir = self.workdir / host / "var"
        backup_dir = self.workdir / host / "backups"
        for folder in (var_dir, backup_dir):
            folder.mkdir(parents=True, exist_ok=True)
        env = {
            "PATH": f"{ROOT / '.venv/bin'}:/usr/local/bin:/usr/bin:/bin",
            "HOME": str(self.workdir / host),
            "LANG": "C.UTF-8",
            "PYTHONUNBUFFERED": "1",
            "ENV_FILE": "",
            "DJANGO_SETTINGS_MODULE": "opsportal.settings",
            "DEBUG": "false",
            "SECRET_KEY": SECRET_KEY,
            "ALLOWED_HOSTS": ",".join(PORTAL_HOSTS.values()),
            "DATABASE_URL": self.database_url,
            "CELERY_BROKER_URL": f"redis://{DB_ADDRESS}:6379/0",
            "CACHE_URL": f"redis://{DB_ADDRESS}:6379/1",
            "VAR_DIR": str(var_dir),
            "BACKUP_DIR": str(backup_dir),
            "BACKUP_FILES": "",
            "BACKUP_DOCKER_VOLUMES": "",
            "BACKUP_PG_BIN_DIR": str(_pg_bin_dir()),
            "MONITOR_HOSTNAME": self.hostname(host),
            "MONITOR_DOCKER_URL": "",
            "MONITOR_HEARTBEAT_INTERVAL": "1s",
            "MONITOR_WORKER_STALE": "6s",
            "MONITOR_SNAPSHOT_INTERVAL": "2s",
            # the machine is shared: its load and disk are not what this test is about
            "MONITOR_LOAD_WARNING": "1000",
            "MONITOR_LOAD_CRITICAL": "2000",
            "MONITOR_DISK_WARNING": "99",
            "MONITOR_DISK_CRITICAL": "100",
            "WEB_HOST": PORTAL_HOSTS["web"],
            "WEB_PORT": "8000",
            "WEB_WORKERS": "2",
            "CELERY_WORKER_CONCURRENCY": "1",
        }
        env.update(extra)
        return env

    def start(self, host: str, name: str, command: str, *, env: dict[str, str] | None = None) -> Process:
        """Start `command` (a Procfile line, run by the shell as honcho does) in the host's namespace."""
        log = self.workdir / f"{host}-{name}-{len(self.processes)}.log"
        with log.open("wb") as out:
            popen = subprocess.Popen(
                ["ip", "netns", "exec", self.namespaces[host], "sh", "-c", f"exec {command}"],
                cwd=ROOT, env=env or self.env(host), stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
            )
        process = Process(name, host, popen, log)
        self.processes.append(process)
        return process

    def manage(self, host: str, *args: str, timeout: float = 120) -> str:
        """Run manage.py in the host's namespace; its stdout (fails the test on a non-zero exit)."""
        result = subprocess.run(
            ["ip", "netns", "exec", self.namespaces[host], str(ROOT / ".venv/bin/python"), "manage.py", *args],
            cwd=ROOT, env=self.env(host), capture_output=True, text=True, timeout=timeout,
        )
        if result.returncode != 0:
            pytest.fail(f"manage.py {shlex.join(args)} on {host} failed: {result.stderr[-3000:]}")
        return result.stdout

    def query(self, host: str, code: str) -> object:
        """Run `code` in `manage.py shell` on the host; it must print one JSON document, which is returned."""
        return json.loads(self.manage(host, "shell", "-c", code).strip().splitlines()[-1])

    def run_in(self, host: str, *argv: str, timeout: float = 60) -> subprocess.CompletedProcess:
        return subprocess.run(["ip", "netns", "exec", self.namespaces[host], *argv], cwd=ROOT,
                              env=self.env(host), capture_output=True, text=True, timeout=timeout)

    def logs(self) -> str:
        return "\n".join(f"--- {p.host} {p.name} (exit {p.popen.poll()}) ---\n{p.output()[-4000:]}"
                         for p in self.processes)


def _wait_listening(deployment: Deployment, host: str, address: str, port: int, what: str) -> None:
    probe = ("import socket,sys\ns=socket.socket();s.settimeout(1)\n"
             f"sys.exit(s.connect_ex(({address!r},{port})))")

    def listening() -> bool:
        return deployment.run_in(host, "python3", "-c", probe).returncode == 0

    wait_for(listening, timeout=60, interval=0.5, what=what)


def _network(deployment: Deployment) -> None:
    for host in ["db", *PORTAL_HOSTS]:
        name = f"opsportal-{deployment.tag}-{host}"
        _run("ip", "netns", "add", name)
        deployment.namespaces[host] = name
        _run("ip", "-n", name, "link", "set", "lo", "up")
    db = deployment.namespaces["db"]
    _run("ip", "-n", db, "link", "add", "br0", "type", "bridge")
    _run("ip", "-n", db, "addr", "add", f"{DB_ADDRESS}/24", "dev", "br0")
    _run("ip", "-n", db, "link", "set", "br0", "up")
    for index, (host, address) in enumerate(PORTAL_HOSTS.items()):
        ns = deployment.namespaces[host]
        _run("ip", "-n", db, "link", "add", f"veth{index}", "type", "veth", "peer", "name", "eth0", "netns", ns)
        _run("ip", "-n", db, "link", "set", f"veth{index}", "master", "br0")
        _run("ip", "-n", db, "link", "set", f"veth{index}", "up")
        _run("ip", "-n", ns, "addr", "add", f"{address}/24", "dev", "eth0")
        _run("ip", "-n", ns, "link", "set", "eth0", "up")


def _database_host(deployment: Deployment) -> None:
    """PostgreSQL (as the postgres user, trust on the subnet) and Redis, listening on the db host's address only."""
    bin_dir = _pg_bin_dir()
    data = deployment.workdir / "db" / "pgdata"
    data.parent.mkdir(parents=True)
    shutil.chown(deployment.workdir, "postgres")
    shutil.chown(data.parent, "postgres")
    as_postgres = ["setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups"]
    initdb = subprocess.run([*as_postgres, str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres",
                             "--auth=trust", "-E", "UTF8", "--no-sync"], capture_output=True, text=True)
    if initdb.returncode != 0:
        pytest.fail(f"initdb failed: {initdb.stderr}")
    with (data / "pg_hba.conf").open("a") as hba:
        hba.write(f"host all all {SUBNET}.0/24 trust\n")
    postgres = shlex.join([*as_postgres, str(bin_dir / "postgres"), "-D", str(data),
                           "-c", f"listen_addresses={DB_ADDRESS}", "-c", f"unix_socket_directories={data.parent}",
                           "-c", "fsync=off", "-c", "max_connections=200"])
    deployment.start("db", "postgres", postgres, env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"})
    redis = shlex.join(["redis-server", "--bind", DB_ADDRESS, "--port", "6379", "--save", "", "--appendonly", "no",
                        "--protected-mode", "no", "--dir", str(data.parent)])
    deployment.start("db", "redis", redis, env={"PATH": "/usr/bin:/bin"})
    _wait_listening(deployment, "db", DB_ADDRESS, 5432, "PostgreSQL on the db host")
    _wait_listening(deployment, "db", DB_ADDRESS, 6379, "Redis on the db host")
    wait_for(lambda: subprocess.run([str(bin_dir / "pg_isready"), "-h", str(data.parent), "-q"]).returncode == 0,
             timeout=30, what="PostgreSQL to accept connections")
    subprocess.run([str(bin_dir / "createdb"), "-h", str(data.parent), "-U", "postgres", "opsportal"], check=True)


def _teardown(deployment: Deployment) -> None:
    for process in reversed(deployment.processes):  # process groups first: a graceful-enough end, then the rest
        if process.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.popen.pid, signal.SIGKILL)
    for name in deployment.namespaces.values():
        for _ in range(50):
            pids = [int(pid) for pid in _run("ip", "netns", "pids", name, check=False).stdout.split()]
            if not pids:
                break
            for pid in pids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.1)
    for process in deployment.processes:
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.popen.wait(timeout=10)
    for name in deployment.namespaces.values():
        _run("ip", "netns", "del", name, check=False)


def _remove_leftovers() -> None:
    """Namespaces of an earlier run that was killed before its teardown (its pid is gone): kill and delete them."""
    for line in _run("ip", "netns", "list").stdout.splitlines():
        found = re.match(r"(opsportal-(\d+)-\w+)", line)
        if found and not Path(f"/proc/{found.group(2)}").exists():
            _teardown(Deployment(tag=found.group(2), workdir=Path("/nonexistent"),
                                 namespaces={"leftover": found.group(1)}))


@pytest.fixture
def deployment() -> Iterator[Deployment]:
    """Four namespaced hosts with PostgreSQL and Redis running on `db`; the test starts the portal's processes."""
    if shutil.which("ip") is None:
        pytest.fail("iproute2 is missing (apt-get install iproute2; scripts/services.sh installs it)")
    workdir = Path(tempfile.mkdtemp(prefix="opsportal-multihost-"))
    workdir.chmod(0o755)
    deployment = Deployment(tag=f"{os.getpid()}", workdir=workdir)
    try:
        _remove_leftovers()
        _network(deployment)
        _database_host(deployment)
        yield deployment
    finally:
        print(deployment.logs())  # shown by pytest when the test failed
        _teardown(deployment)
        shutil.rmtree(workdir, ignore_errors=True)
