"""Start-up imports only what every process needs: `manage.py backup` must reach pg_dump quickly, so the Docker SDK
(and requests), apprise, boto3 (S3 storage only) and Celery's worker
machinery are imported where they are used, not at Django set-up
(issue 20; bench/backup.py prints the start-up time)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.conftest import ROOT

HEAVY = ["apprise", "boto3", "docker.api.client", "requests", "celery.apps.worker", "celery.worker.consumer"]

PROBE = """
import json, sys
import django
django.setup()
from django.core.management import load_command_class
load_command_class("backups", "backup").create_parser("manage.py", "backup").format_help()
from backups.storage import backup_storage
backup_storage()  # what a backup does before pg_dump starts: on local storage, no boto3
print(json.dumps(sorted(sys.modules)))
"""


def loaded_modules(settings_module: str) -> set[str]:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": settings_module,
        "ENV_FILE": "",
        "DATABASE_URL": os.environ.get("TEST_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/opsportal"),
    }
    done = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    return set(json.loads(done.stdout.splitlines()[-1]))


def test_django_setup_backup_help_and_local_storage_import_no_docker_apprise_boto3_or_celery_worker():
    modules = loaded_modules("opsportal.settings")
    assert "backups.management.commands.backup" in modules  # the probe did load the command
    assert [name for name in HEAVY if name in modules] == []


def test_the_lazy_docker_module_still_works_when_used():
    from backups.sources import docker_volumes

    assert docker_volumes.docker.errors.NotFound.__name__ == "NotFound"
    assert issubclass(docker_volumes.requests.RequestException, OSError)
