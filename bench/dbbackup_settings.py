"""Settings for running django-dbbackup's `dbbackup -z` on the same database, as the benchmark's baseline."""

import os

from opsportal.settings import *  # noqa: F403
from opsportal.settings import INSTALLED_APPS, STORAGES

INSTALLED_APPS = [*INSTALLED_APPS, "dbbackup"]
STORAGES = {
    **STORAGES,
    "dbbackup": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": os.environ["BENCH_DBBACKUP_DIR"]},
    },
}
