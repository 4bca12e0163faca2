"""Backup runs inserted with SQL for the catalog and admin benchmarks (100,000 rows in seconds, not minutes).

One INSERT ... SELECT over generate_series. The columns the benchmarks vary are SQL expressions below; every other
column of BackupRun gets its model default as a parameter, so a column added by a later migration (a NOT NULL
one without a database default, say) cannot break the seeding.
"""

from __future__ import annotations

# Per row `g`: a failed run in 17, a safety backup in 29 (of the default database), a manual one in 5, runs an hour
# apart going back from now, a 2 KB log, one run in 997 pinned, one in 7 verified.
RUN_COLUMNS = {
    "uuid": "md5(g::text || %(salt)s)::uuid",
    "status": "CASE WHEN g %% 17 = 0 THEN 'failed' ELSE 'succeeded' END",
    "kind": "'logical'",
    "trigger": "CASE WHEN g %% 29 = 0 THEN 'safety' WHEN g %% 5 = 0 THEN 'manual' ELSE 'scheduled' END",
    "triggered_by_name": "CASE WHEN g %% 5 = 0 THEN 'admin' ELSE 'schedule' END",
    "only": "CASE WHEN g %% 29 = 0 THEN '[\"database:default\"]'::jsonb ELSE '[]'::jsonb END",
    "created_at": "now() - (g || ' hours')::interval",
    "started_at": "now() - (g || ' hours')::interval",
    "finished_at": "now() - (g || ' hours')::interval + interval '95 seconds'",
    "worker_host": "'worker-1'",
    "storage_prefix": "'run' || g",
    "bytes_done": "1000000 + g",
    "total_bytes": "400000 + g",
    "log": "repeat('pg_dump: dumping contents of table x' || chr(10), 55)",
    "verification": "CASE WHEN g %% 7 = 0 THEN 'verified' ELSE '' END",
    "pinned": "g %% 997 = 0",
}

INSERT_ARTIFACTS = """
INSERT INTO backups_backupartifact (run_id, kind, name, path, stored_bytes, raw_bytes, sha256, compression, encrypted,
    format, metadata)
SELECT id, 'database', 'default', storage_prefix || '/database-default.dump.zst', total_bytes, total_bytes * 5,
       md5(id::text) || md5(id::text), 'zstd', false, 'pg_dump-custom', '{}'::jsonb
FROM backups_backuprun WHERE id BETWEEN %(low)s AND %(high)s
"""


def insert_runs_sql() -> tuple[str, dict]:
    """The INSERT statement and the parameters of the columns left to their model defaults."""
    from django.db import connection
    from django.db.models import AutoField

    from backups.models import BackupRun

    columns, values, defaults = [], [], {}
    for field in BackupRun._meta.concrete_fields:
        if isinstance(field, AutoField):
            continue
        columns.append(f'"{field.column}"')
        if field.column in RUN_COLUMNS:
            values.append(RUN_COLUMNS[field.column])
        else:
            key = f"default_{field.column}"
            defaults[key] = field.get_db_prep_save(field.get_default(), connection=connection)
            values.append(f"%({key})s")
    sql = (
        f"INSERT INTO {BackupRun._meta.db_table} ({', '.join(columns)})\n"
        f"SELECT {', '.join(values)}\nFROM generate_series(%(low)s, %(high)s) AS g"
    )
    return sql, defaults


def insert_runs(low: int, high: int, salt: str, *, artifacts: bool = False) -> None:
    """Insert runs low..high (in chunks of 50,000), one artifact each if asked, then ANALYZE."""
    from django.db import connection

    sql, defaults = insert_runs_sql()
    with connection.cursor() as cursor:
        for start in range(low, high + 1, 50_000):
            cursor.execute(sql, {**defaults, "low": start, "high": min(high, start + 49_999), "salt": salt})
        if artifacts:
            cursor.execute(
                "SELECT min(id), max(id) FROM backups_backuprun WHERE NOT EXISTS "
                "(SELECT 1 FROM backups_backupartifact a WHERE a.run_id = backups_backuprun.id)"
            )
            first, last = cursor.fetchone()
            cursor.execute(INSERT_ARTIFACTS, {"low": first, "high": last})
            cursor.execute("ANALYZE backups_backupartifact")
        cursor.execute("ANALYZE backups_backuprun")
