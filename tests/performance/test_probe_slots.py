"""At most PERF_PROBE_CONCURRENCY probes run at once, over every worker process (PostgreSQL) or on one host (SQLite)."""

from __future__ import annotations

import psycopg
import pytest
from django.db import connection

from performance.slots import PROBE_SLOT_LOCK_CLASS, _file_slot, perf_probe_slot


def other_process_takes(slot: int) -> bool:
    """Whether another session (as another worker process would) can take the slot's lock now."""
    db = connection.settings_dict
    with psycopg.connect(host=db["HOST"], port=db["PORT"], user=db["USER"], dbname=db["NAME"],
                         autocommit=True) as other:
        taken = other.execute("SELECT pg_try_advisory_lock(%s, %s)", [PROBE_SLOT_LOCK_CLASS, slot]).fetchone()[0]
        if taken:
            other.execute("SELECT pg_advisory_unlock(%s, %s)", [PROBE_SLOT_LOCK_CLASS, slot])
        return taken


@pytest.mark.django_db(transaction=True)
def test_a_probe_holds_its_slot_against_other_processes_until_it_ends(settings):
    settings.PERF_PROBE_CONCURRENCY = 1
    with perf_probe_slot() as slot:
        assert slot == 0
        assert not other_process_takes(0)
    assert other_process_takes(0)


@pytest.mark.django_db(transaction=True)
def test_with_two_slots_a_second_probe_gets_the_second(settings):
    settings.PERF_PROBE_CONCURRENCY = 2
    db = connection.settings_dict
    with psycopg.connect(host=db["HOST"], port=db["PORT"], user=db["USER"], dbname=db["NAME"],
                         autocommit=True) as other:
        other.execute("SELECT pg_advisory_lock(%s, 0)", [PROBE_SLOT_LOCK_CLASS])  # another worker's probe
        with perf_probe_slot() as slot:
            assert slot == 1
        settings.PERF_PROBE_CONCURRENCY = 1
        with perf_probe_slot() as slot:
            assert slot is None


def test_without_postgresql_a_file_lock_in_var_dir_is_the_slot(settings, tmp_path):
    settings.VAR_DIR = tmp_path
    with _file_slot(range(1)) as first:
        assert first == 0
        with _file_slot(range(1)) as second:
            assert second is None
    with _file_slot(range(1)) as again:
        assert again == 0
