"""Test settings: the real PostgreSQL and Redis of this machine, overridable through the environment.

TEST_DATABASE_URL / TEST_REDIS_URL point the suite elsewhere; pytest-django creates and drops the test database.
A developer's `.env` is not read, so the suite sees the same configuration everywhere.
"""

import os

os.environ.setdefault("ENV_FILE", "")
os.environ["DATABASE_URL"] = os.environ.get("TEST_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/opsportal")
os.environ["CELERY_BROKER_URL"] = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
# One test's cached answer must never reach another test or another run (the default file cache persists).
os.environ.setdefault("CACHE_URL", "locmemcache://")
os.environ.setdefault("SECRET_KEY", "tests-only-secret-key-not-for-production-use-0123456789")
# Each test must see the checks' present answer, not one shared from an earlier test (test_shared_report sets it).
os.environ.setdefault("HEALTH_CACHE_TTL", "0s")
# The machine that runs the suite is shared and its load swings (other suites, benchmarks): a test about something
# else must not read "critical" because the CPU check saw a load of 9. Tests of the CPU check set their own limits.
os.environ.setdefault("MONITOR_LOAD_WARNING", "1000")
os.environ.setdefault("MONITOR_LOAD_CRITICAL", "2000")
os.environ.setdefault("VAR_DIR", os.path.join(os.path.dirname(os.path.dirname(__file__)), "var", "test"))

from opsportal.settings import *  # noqa: E402, F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# Threads that run checks keep their connection only for CONN_MAX_AGE; with 0 they close it after each job, so no
# connection is left open when pytest-django drops the test database at the end of the session.
DATABASES["default"]["CONN_MAX_AGE"] = 0  # noqa: F405
