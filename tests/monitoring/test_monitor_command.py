"""`manage.py monitor [--json]`: a table or JSON, and Nagios exit codes 0 ok / 1 warning / 2 critical."""

from __future__ import annotations

import io
import json
import subprocess
import sys

import pytest
from django.core.management import call_command

from tests.conftest import test_database_env
from tests.monitoring.conftest import ROOT

pytestmark = pytest.mark.django_db(transaction=True)


def monitor(*args: str) -> tuple[int, str]:
    out = io.StringIO()
    with pytest.raises(SystemExit) as exit_info:
        call_command("monitor", *args, stdout=out)
    return exit_info.value.code, out.getvalue()


def test_all_ok_exits_0_with_a_table():
    code, out = monitor("--check", "database", "--check", "memory")
    assert code == 0
    lines = out.strip().splitlines()
    assert lines[0].startswith("database") and "OK" in lines[0]
    assert lines[1].startswith("memory@web-test")
    assert lines[-1].startswith("OK (")


def test_a_warning_exits_1():
    code, out = monitor("--check", "backups")
    assert code == 1
    assert "WARNING" in out


def test_a_critical_exits_2_and_json_lists_the_checks():
    code, out = monitor("--json", "--check", "celery", "--check", "database")
    assert code == 2
    body = json.loads(out)
    assert body["status"] == "critical"
    assert {check["name"]: check["status"] for check in body["checks"]} == {"celery": "critical", "database": "ok"}


@pytest.mark.django_db(transaction=True)
def test_as_a_real_process_for_nagios():
    env = test_database_env(MONITOR_HOSTNAME="nagios-host")
    done = subprocess.run([sys.executable, "manage.py", "monitor", "--check", "disk"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "disk@nagios-host" in done.stdout
    wrapped = subprocess.run(["bash", "scripts/server/monitor.sh", "--check", "backups"], cwd=ROOT, env=env,
                             capture_output=True, text=True, timeout=60)
    assert wrapped.returncode == 1, wrapped.stderr
