"""The portal deployed over four hosts, as docs/guides/operations.md lays it out, with Celery over Redis between them:

- db      PostgreSQL and Redis
- web     gunicorn (the Procfile's web command)
- backups a worker on the backups queue, and a second worker on the monitoring queue (so losing the monitoring
          host is itself seen)
- monitor a worker on the monitoring and probes queues, and beat

A backup started in the admin on the web host runs on the backups host; every portal host reports its own disk and
memory; when the monitoring host's worker is SIGKILLed its checks go stale and an alert on that host fires, and when
the worker is back the alert resolves.
"""

from __future__ import annotations

import os
import signal
import textwrap
from pathlib import Path

import pytest

from tests.conftest import wait_for
from tests.multihost.conftest import PORTAL_HOSTS, Deployment, procfile_command

pytestmark = pytest.mark.timeout(290)

ADMIN_PASSWORD = "multihost-admin-password"
RULE_KEY = "host-silent"


def worker_command(*, queues: str, node: str) -> str:
    """The Procfile's worker on other queues, named <node>@<MONITOR_HOSTNAME>."""
    command = procfile_command("worker")
    for old, new in (("-Q backups,monitoring,probes", f"-Q {queues}"), ("-n opsportal@", f"-n {node}@")):
        assert old in command, f"the Procfile's worker no longer has {old!r}: {command}"
        command = command.replace(old, new)
    return command


def admin_run_backup_now(deployment: Deployment) -> str:
    """Log in to the admin on the web host and press "Run backup now", from a client on the web host."""
    base = f"http://{PORTAL_HOSTS['web']}:8000"
    client = textwrap.dedent(f"""
        import re, requests
        session = requests.Session()
        page = session.get("{base}/admin/login/", timeout=30)
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
        login = session.post("{base}/admin/login/", timeout=30, data={{
            "username": "admin", "password": "{ADMIN_PASSWORD}", "csrfmiddlewaretoken": token,
            "next": "/admin/"}})
        assert login.url.endswith("/admin/"), login.url
        runs = session.get("{base}/admin/backups/backuprun/", timeout=30)
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', runs.text).group(1)
        started = session.post("{base}/admin/backups/backuprun/run-now/", timeout=30,
                               data={{"csrfmiddlewaretoken": token}})
        started.raise_for_status()
        print(started.url)
    """)
    result = deployment.run_in("web", str(Path(".venv/bin/python").resolve()), "-c", client)
    assert result.returncode == 0, result.stderr + deployment.logs()
    return result.stdout


def host_rows(deployment: Deployment) -> dict:
    return deployment.query("web", textwrap.dedent("""
        import json
        from monitoring.models import HealthSnapshot, HostReport
        snapshot = HealthSnapshot.objects.order_by("-taken_at").first()
        rows = list(snapshot.results.values_list("check_name", "host")) if snapshot else []
        reports = {r.hostname: sorted(item["name"] for item in r.results) for r in HostReport.objects.all()}
        print(json.dumps({"snapshot": sorted(set(map(tuple, rows))), "reports": reports}))
    """))


def alert_states(deployment: Deployment) -> list:
    return deployment.query("web", textwrap.dedent(f"""
        import json
        from alerting.models import Alert
        print(json.dumps([[a.state, a.labels] for a in Alert.objects.filter(rule__key={RULE_KEY!r})]))
    """))


def test_four_hosts_backup_host_reports_and_a_lost_monitoring_worker(deployment: Deployment):
    web, backups, monitor = (deployment.hostname(h) for h in PORTAL_HOSTS)
    deployment.manage("web", "migrate", "--noinput")
    deployment.query("web", textwrap.dedent(f"""
        from django.contrib.auth.models import User
        User.objects.create_superuser("admin", "admin@example.com", {ADMIN_PASSWORD!r})
        print(1)
    """))

    deployment.start("web", "web", procfile_command("web"))
    deployment.start("backups", "worker-backups", worker_command(queues="backups", node="backups"))
    deployment.start("backups", "worker-monitoring", worker_command(queues="monitoring", node="monitoring"))
    monitoring_worker = deployment.start("monitor", "worker-monitoring",
                                         worker_command(queues="monitoring,probes", node="monitoring"))
    deployment.start("monitor", "beat", procfile_command("beat"))

    # Every portal host reports its own disk and memory, and snapshots carry them under each host's name.
    def every_host_in_a_snapshot() -> bool:
        rows = host_rows(deployment)
        hosts = {host for name, host in rows["snapshot"] if name in ("disk", "memory")}
        reporting = {host for host, checks in rows["reports"].items() if {"disk", "memory"} <= set(checks)}
        return {web, backups, monitor} <= hosts and {web, backups, monitor} <= reporting

    wait_for(every_host_in_a_snapshot, timeout=120, interval=2, what="disk and memory of the three portal hosts")
    workers = deployment.query("web", textwrap.dedent("""
        import json
        from monitoring.models import WorkerHeartbeat
        print(json.dumps(sorted(WorkerHeartbeat.objects.values_list("hostname", "queue"))))
    """))
    # each worker named after its host (MONITOR_HOSTNAME in the Procfile's -n), so the two monitoring workers differ
    assert [tuple(row) for row in workers] == sorted([
        (f"backups@{backups}", "backups"), (f"monitoring@{backups}", "monitoring"),
        (f"monitoring@{monitor}", "monitoring"), (f"monitoring@{monitor}", "probes")])

    # A backup started in the admin on the web host runs on the backups host, into that host's storage.
    admin_run_backup_now(deployment)

    def finished_run() -> dict | None:
        runs = deployment.query("web", textwrap.dedent("""
            import json
            from backups.models import BackupRun
            print(json.dumps([{"status": r.status, "host": r.worker_host, "error": r.error}
                              for r in BackupRun.objects.all()]))
        """))
        assert len(runs) <= 1, runs
        return runs[0] if runs and runs[0]["status"] not in ("queued", "running") else None

    run = wait_for(finished_run, timeout=120, interval=2, what="the backup to finish")
    assert run["status"] == "succeeded", (run, deployment.logs())
    assert run["host"] == backups
    stored = [p for p in (deployment.workdir / "backups" / "backups").rglob("*") if p.is_file()]
    assert any(p.name == "manifest.json" for p in stored), stored
    assert not [p for p in (deployment.workdir / "web" / "backups").rglob("*") if p.is_file()]

    # The default rule on silent hosts, with seconds instead of minutes (as an admin may edit it).
    assert deployment.query("web", textwrap.dedent("""
        from datetime import timedelta
        from alerting.models import AlertRule
        print(AlertRule.objects.filter(key="host-silent").update(for_duration=timedelta(seconds=2),
                                                                 resolve_after=timedelta(seconds=2)))
    """)) == 1
    silent = ["firing", {"check": "host", "host": monitor}]
    assert silent not in alert_states(deployment)

    # the worker's main process itself (ip netns exec and sh exec it), not a wrapper around it
    argv = Path(f"/proc/{monitoring_worker.popen.pid}/cmdline").read_bytes().decode().split("\0")
    assert Path(argv[0]).name.startswith("python") and Path(argv[1]).name == "celery" and "worker" in argv, argv
    os.kill(monitoring_worker.popen.pid, signal.SIGKILL)
    monitoring_worker.popen.wait(timeout=10)

    wait_for(lambda: silent in alert_states(deployment), timeout=90, interval=2,
             what="the alert on the silent monitoring host to fire")

    deployment.start("monitor", "worker-monitoring",
                     worker_command(queues="monitoring,probes", node="monitoring"))
    back = ["resolved", {"check": "host", "host": monitor}]
    wait_for(lambda: back in alert_states(deployment), timeout=90, interval=2,
             what="the alert to resolve once the monitoring worker is back")
    assert every_host_in_a_snapshot()
