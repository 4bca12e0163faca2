"""The throwaway PostgreSQL cluster of tests/pg_cluster.py: without the server binaries it fails loudly, never skips."""

from __future__ import annotations

import psycopg
import pytest

from tests import pg_cluster


def test_a_missing_initdb_fails_the_test_naming_it(monkeypatch, tmp_path):
    monkeypatch.setattr(pg_cluster, "PG_BIN", tmp_path)  # a bin folder without initdb

    with pytest.raises(pytest.fail.Exception, match="no initdb"):
        pg_cluster.ThrowawayPostgres()


def test_a_started_cluster_gives_databases_and_is_gone_after_cleanup(throwaway_postgres):
    url = throwaway_postgres.create_database("scratch_one")

    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT current_database()").fetchone() == ("scratch_one",)
    throwaway_postgres.cleanup()
    assert not throwaway_postgres.folder.exists()
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(url, connect_timeout=3)
