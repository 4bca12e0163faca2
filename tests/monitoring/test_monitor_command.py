"""`manage.py monitor [--json]` and scripts/server/monitor.sh: a Nagios summary line with performance data, then a
table (or JSON); exit codes 0 ok / 1 warning / 2 critical / 3 unknown."""

from __future__ import annotations

import io
import json
import re
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
    assert lines[0].startswith("OK - 2 checks ok | ")
    assert lines[1].startswith("database") and "OK" in lines[1]
    assert lines[2].startswith("memory@web-test")


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
    wrapped = subprocess.run(["bash", "scripts/server/monitor.sh", "--check", "backups"], cwd=ROOT,
                             env={**env, "OPSPORTAL_PYTHON": sys.executable},
                             capture_output=True, text=True, timeout=60)
    assert wrapped.returncode == 1, wrapped.stderr


# --- Nagios plugin output (https://nagios-plugins.org/doc/guidelines.html#AEN200) -----------------------------------

PERFDATA_ITEM = re.compile(
    r"""(?P<label>'(?:[^']|'')+'|[^'=\s]+)=(?P<value>-?[0-9.]+)(?P<uom>s|ms|us|%|B|KB|MB|TB|c)?"""
    r"""(?:;(?P<warn>[^;\s]*)(?:;(?P<crit>[^;\s]*)(?:;(?P<min>-?[0-9.]*)(?:;(?P<max>-?[0-9.]*))?)?)?)?""")
SUMMARY = re.compile(r"^(?P<state>OK|WARNING|CRITICAL|UNKNOWN) - (?P<text>[^|]+?)(?: \| (?P<perfdata>.*))?$")
EXIT_STATES = {0: "OK", 1: "WARNING", 2: "CRITICAL", 3: "UNKNOWN"}


def parse_perfdata(text: str) -> dict[str, tuple[float, str]]:
    """label -> (value, unit of measure), failing on anything the plugin guidelines do not allow."""
    found: dict[str, tuple[float, str]] = {}
    position = 0
    text = text.strip()
    while position < len(text):
        match = PERFDATA_ITEM.match(text, position)
        assert match, f"not Nagios performance data at {text[position:]!r}"
        label = match["label"]
        if label.startswith("'"):
            label = label[1:-1].replace("''", "'")
        else:
            assert " " not in label and "=" not in label
        found[label] = (float(match["value"]), match["uom"] or "")
        position = match.end()
        assert position == len(text) or text[position] == " ", f"no space after {match.group(0)!r}"
        position += 1
    return found


def parse_plugin_output(code: int, out: str) -> tuple[str, str, dict[str, tuple[float, str]]]:
    lines = out.splitlines()
    match = SUMMARY.match(lines[0])
    assert match, f"first line is not a Nagios summary: {lines[0]!r}"
    assert match["state"] == EXIT_STATES[code]
    assert all("|" not in line for line in lines[1:]), "a '|' in a later line would start performance data"
    return match["state"], match["text"], parse_perfdata(match["perfdata"] or "")


def wrapper(*args: str, **env: str) -> subprocess.CompletedProcess:
    full_env = test_database_env(OPSPORTAL_PYTHON=sys.executable, MONITOR_HOSTNAME="nagios-host", **env)
    return subprocess.run(["bash", "scripts/server/monitor.sh", *args], cwd=ROOT, env=full_env,
                          capture_output=True, text=True, timeout=60)


def test_the_first_line_is_the_nagios_summary_with_performance_data():
    code, out = monitor("--check", "database", "--check", "memory", "--check", "disk", "--local")
    assert code == 0
    state, text, perfdata = parse_plugin_output(code, out)
    assert text == "3 checks ok"
    assert perfdata["duration"][1] == "s"
    assert perfdata["database.duration"][1] == "s"
    assert perfdata["memory@web-test.duration"][1] == "s"
    used = perfdata["memory@web-test.memory_used_percent"]
    assert used[1] == "%" and 0 < used[0] <= 100
    assert any(label.startswith("disk@web-test.disk_used_percent{") for label in perfdata)  # quoted: it has '='
    table = out.splitlines()[1:]
    assert table[0].startswith("database") and "OK" in table[0]


def test_a_warning_names_the_checks_that_are_not_ok_first():
    code, out = monitor("--check", "backups", "--check", "memory", "--local")
    assert code == 1
    state, text, _ = parse_plugin_output(code, out)
    assert text.startswith("backups: ")
    assert "memory" not in text


def test_an_unknown_check_is_unknown_and_names_the_known_ones():
    code, out = monitor("--check", "nope")
    assert code == 3
    assert out.count("\n") == 1
    assert out.startswith("UNKNOWN - ") and "nope" in out
    for known in ("backups", "cpu", "database", "disk", "memory", "redis"):
        assert known in out


def test_a_switched_off_check_asked_for_by_name_is_unknown_not_green(settings):
    settings.MONITOR_DISABLED_CHECKS = ["docker"]
    code, out = monitor("--check", "docker", "--local")
    assert code == 3
    assert out.startswith("UNKNOWN - ") and "MONITOR_DISABLED_CHECKS" in out and out.count("\n") == 1


def test_no_check_left_to_run_is_unknown_not_green(settings):
    from monitoring.registry import check_classes

    settings.MONITOR_DISABLED_CHECKS = list(check_classes())
    code, out = monitor("--local")
    assert code == 3
    assert out.startswith("UNKNOWN - ") and out.count("\n") == 1


def test_a_settings_error_through_the_wrapper_is_one_unknown_line():
    done = wrapper("--check", "cpu", BACKUP_RPO="soon")
    assert done.returncode == 3, done
    assert done.stdout.count("\n") == 1 and done.stderr == "", done
    assert done.stdout.startswith("UNKNOWN - ") and "BACKUP_RPO" in done.stdout
    assert "Traceback" not in done.stdout


def test_a_bad_option_through_the_wrapper_is_unknown_not_critical():
    done = wrapper("--no-such-option")
    assert done.returncode == 3, done
    assert done.stdout.count("\n") == 1 and done.stdout.startswith("UNKNOWN - "), done


def test_a_dead_redis_through_the_wrapper_is_critical_first(dead_redis_url):
    done = wrapper("--check", "redis", "--check", "database", "--local", TEST_REDIS_URL=dead_redis_url)
    assert done.returncode == 2, done
    state, text, perfdata = parse_plugin_output(done.returncode, done.stdout)
    assert text.startswith("redis:broker: ")
    assert "database" not in text
    assert perfdata["database.duration"][1] == "s"
