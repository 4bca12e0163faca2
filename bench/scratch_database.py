"""A throw-away PostgreSQL database for a benchmark: created, set as TEST_DATABASE_URL for tests.settings, dropped."""

from __future__ import annotations

import contextlib
import os
import secrets
import sys
from collections.abc import Iterator

import psycopg

SERVER = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432")


@contextlib.contextmanager
def scratch_database(prefix: str) -> Iterator[str]:
    """Create `<prefix>_<random>` on BENCH_PG, point Django's test settings at it, and drop it (forced) afterwards."""
    name = f"{prefix}_{secrets.token_hex(3)}"
    with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    os.environ["TEST_DATABASE_URL"] = f"{SERVER}/{name}"
    os.environ["DJANGO_SETTINGS_MODULE"] = "tests.settings"
    try:
        yield name
    finally:
        if "django" in sys.modules:
            from django.db import connections

            connections.close_all()
        with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
