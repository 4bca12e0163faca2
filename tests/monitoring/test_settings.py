"""Monitoring settings come from the environment, with defaults, and bad values stop the start naming the variable."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.opsportal.embedded import ROOT, clean_env

SHOW = (
    "import json, django; django.setup(); from django.conf import settings as s; "
    "print(json.dumps({'paths': s.MONITOR_DISK_PATHS, 'backup_dir': str(s.BACKUP_DIR), 'token': s.HEALTH_TOKEN, "
    "'deadline': s.HEALTH_DEADLINE.total_seconds(), 'required': s.MONITOR_REQUIRED_CONTAINERS, "
    "'docker': s.MONITOR_DOCKER_URL}))"
)


def load(var_dir, **env: str) -> subprocess.CompletedProcess:
    (var_dir / "secret_key").write_text("k" * 50)
    return subprocess.run([sys.executable, "-c", SHOW], cwd=ROOT, capture_output=True, text=True, timeout=60,
                          env=clean_env(var_dir, DJANGO_SETTINGS_MODULE="opsportal.settings", **env))


def test_defaults_check_root_and_the_backup_dir(tmp_path):
    loaded = json.loads(load(tmp_path, MONITOR_DISK_PATHS="").stdout)
    assert loaded["paths"] == ["/", loaded["backup_dir"]]
    assert loaded["deadline"] == 3.0 and loaded["token"] == "" and loaded["required"] == []
    assert loaded["docker"] == "unix:///var/run/docker.sock"


def test_values_and_token_files_are_read(tmp_path):
    token_file = tmp_path / "health_token"
    token_file.write_text("from-a-file\n")
    loaded = json.loads(load(tmp_path, MONITOR_DISK_PATHS="/,/srv", HEALTH_TOKEN_FILE=str(token_file),
                             MONITOR_REQUIRED_CONTAINERS="db, web").stdout)
    assert loaded["paths"] == ["/", "/srv"]
    assert loaded["token"] == "from-a-file"
    assert loaded["required"] == ["db", "web"]


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"MONITOR_DISK_WARNING": "lots"}, "MONITOR_DISK_WARNING"),
        ({"MONITOR_MEMORY_CRITICAL": "150"}, "MONITOR_MEMORY_CRITICAL"),
        ({"MONITOR_DISK_WARNING": "95", "MONITOR_DISK_CRITICAL": "90"}, "MONITOR_DISK_WARNING"),
        ({"MONITOR_CHECK_TIMEOUT": "soon"}, "MONITOR_CHECK_TIMEOUT"),
        ({"MONITOR_RAW_RETENTION": "0"}, "MONITOR_RAW_RETENTION"),
    ],
)
def test_bad_values_stop_the_start_naming_the_variable(tmp_path, env, named):
    result = load(tmp_path, **env)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr and named in result.stderr
