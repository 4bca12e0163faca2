"""Settings load from the environment: the embedded default with nothing set, production with URLs, and loud
errors naming the variable for bad values."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.opsportal.embedded import ROOT, clean_env

SHOW = (
    "import json, django; django.setup(); from django.conf import settings as s; "
    "print(json.dumps({'engine': s.DATABASES['default']['ENGINE'], 'name': str(s.DATABASES['default']['NAME']), "
    "'broker': s.CELERY_BROKER_URL, 'folders': s.CELERY_BROKER_TRANSPORT_OPTIONS, 'debug': s.DEBUG}))"
)


def load_settings(var_dir, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", SHOW],
        cwd=ROOT,
        env=clean_env(var_dir, DJANGO_SETTINGS_MODULE="opsportal.settings", **env),
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_embedded_default_uses_sqlite_and_filesystem_broker_under_var(tmp_path):
    (tmp_path / "secret_key").write_text("k" * 50)
    result = load_settings(tmp_path)
    assert result.returncode == 0, result.stderr
    loaded = json.loads(result.stdout)
    assert loaded["engine"] == "django.db.backends.sqlite3"
    assert loaded["name"] == str(tmp_path / "opsportal.sqlite3")
    assert loaded["broker"] == "filesystem://localhost//"
    # Every folder the filesystem transport writes (queue, processed, exchange table) is under var/, none in the
    # working directory.
    folders = {key: value for key, value in loaded["folders"].items() if key.endswith("_folder") or "folder_" in key}
    assert set(folders) >= {"data_folder_in", "data_folder_out", "processed_folder", "control_folder"}
    assert all(value.startswith(str(tmp_path)) for value in folders.values()), folders
    assert loaded["debug"] is False


def test_production_urls_switch_to_postgresql_and_redis(tmp_path):
    result = load_settings(
        tmp_path,
        SECRET_KEY="x" * 50,
        DATABASE_URL="postgres://ops@db.example:5432/opsportal",
        CELERY_BROKER_URL="redis://redis.example:6379/0",
    )
    assert result.returncode == 0, result.stderr
    loaded = json.loads(result.stdout)
    assert loaded["engine"] == "django.db.backends.postgresql"
    assert loaded["name"] == "opsportal"
    assert loaded["broker"] == "redis://redis.example:6379/0"


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("DEBUG", "maybe"),
        ("DATABASE_URL", "nonsense://what"),
        ("CELERY_BROKER_URL", "localhost:6379"),
        ("BACKUP_RPO", "soon"),
        ("HEALTH_DEADLINE", "-3s"),
        ("LOG_LEVEL", "LOUD"),
        ("TIME_ZONE", "Mars/Olympus"),
        ("DATABASE_CONN_MAX_AGE", "ten"),
        ("SECRET_KEY_FILE", "/nonexistent/secret"),
        ("PROMETHEUS_MULTIPROC_DIR", "/nonexistent/prometheus"),
        ("BACKUP_STALL_AFTER", "1s"),  # not longer than BACKUP_PROGRESS_EVERY (1s)
        ("BACKUP_PROGRESS_EVERY", "3s"),  # pages promise progress at least every 2 s
        ("BACKUP_S3_TIMEOUT", "0s"),
        ("BACKUP_S3_ATTEMPTS", "0"),
        ("BACKUP_CLEANUP_TIMEOUT", "never"),
    ],
)
def test_bad_value_fails_at_start_naming_the_variable(tmp_path, variable, value):
    env = {"SECRET_KEY": "x" * 50, "DATABASE_URL": "postgres://ops@db.example/opsportal", variable: value}
    if variable == "SECRET_KEY_FILE":
        env.pop("SECRET_KEY")
    result = load_settings(tmp_path, **env)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert variable in result.stderr.strip().splitlines()[-1]


def test_secret_key_is_required_when_debug_is_off(tmp_path):
    result = load_settings(tmp_path)
    assert result.returncode != 0
    assert "SECRET_KEY is required when DEBUG is off" in result.stderr
    assert load_settings(tmp_path, DEBUG="true").returncode == 0


def test_dotenv_file_is_read_and_the_environment_wins(tmp_path):
    dotenv = tmp_path / "portal.env"
    dotenv.write_text("SECRET_KEY=" + "s" * 50 + "\nDATABASE_URL=postgres://fromfile@db/one\nDEBUG=true\n")
    result = load_settings(tmp_path, ENV_FILE=str(dotenv), DEBUG="false")
    assert result.returncode == 0, result.stderr
    loaded = json.loads(result.stdout)
    assert loaded["engine"] == "django.db.backends.postgresql"
    assert loaded["debug"] is False


@pytest.mark.security
def test_check_deploy_passes_with_production_settings(tmp_path):
    production = {
        "SECRET_KEY": "a-long-random-production-secret-key-with-enough-entropy-0123456789",
        "DATABASE_URL": "postgres://ops@db.example:5432/opsportal",
        "CELERY_BROKER_URL": "redis://redis.example:6379/0",
        "ALLOWED_HOSTS": "ops.example.com",
        "SECURE_SSL_REDIRECT": "true",
        "SESSION_COOKIE_SECURE": "true",
        "CSRF_COOKIE_SECURE": "true",
        "SECURE_HSTS_SECONDS": "31536000",
        "SECURE_HSTS_PRELOAD": "true",
        "DJANGO_SETTINGS_MODULE": "opsportal.settings",
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=clean_env(tmp_path, **production),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(("env", "expected"), [
    ({}, "http://127.0.0.1:8000"),
    ({"WEB_PORT": "8123"}, "http://127.0.0.1:8123"),  # what `WEB_PORT=8123 make run` serves
    ({"WEB_HOST": "0.0.0.0", "WEB_PORT": "8124"}, "http://127.0.0.1:8124"),  # noqa: S104 - a wildcard bind
    ({"WEB_PORT": "8123", "PORTAL_URL": "https://ops.example.com/"}, "https://ops.example.com"),
])
def test_the_portal_url_is_the_server_make_run_starts_unless_set(tmp_path, env, expected):
    (tmp_path / "secret_key").write_text("k" * 50)
    shown = subprocess.run(
        [sys.executable, "-c", "import django; django.setup(); from django.conf import settings as s; "
                               "print(s.PORTAL_URL, s.PERF_BASE_URL)"],
        cwd=ROOT, env=clean_env(tmp_path, DJANGO_SETTINGS_MODULE="opsportal.settings", **env),
        capture_output=True, text=True, timeout=60,
    )
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.split() == [expected, expected]
