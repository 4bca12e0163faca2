"""PostgreSQL client tools without secrets in argv: connection details travel in PG* environment variables."""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
from pathlib import Path

import environ
import psycopg
from django.conf import settings
from django.utils.translation import gettext as _


class ToolError(Exception):
    """A PostgreSQL client tool is missing, too old or failed."""


def settings_dict_from_url(url: str) -> dict:
    config = environ.Env.db_url_config(url)
    config.setdefault("OPTIONS", {})
    return config


def pg_env(db: dict) -> dict[str, str]:
    """Environment for pg_dump/pg_restore/psql: the password goes in PGPASSWORD (or the user's passfile), never argv."""
    # PG* variables already in the environment stay (libpq reads them for Django's own connection too);
    # the settings of this database win over them.
    env = dict(os.environ)
    mapping = {"HOST": "PGHOST", "PORT": "PGPORT", "USER": "PGUSER", "PASSWORD": "PGPASSWORD", "NAME": "PGDATABASE"}
    for key, variable in mapping.items():
        if db.get(key):
            env[variable] = str(db[key])
    options = db.get("OPTIONS") or {}
    for option, variable in {
        "sslmode": "PGSSLMODE",
        "sslrootcert": "PGSSLROOTCERT",
        "sslcert": "PGSSLCERT",
        "sslkey": "PGSSLKEY",
        "passfile": "PGPASSFILE",
    }.items():
        if options.get(option):
            env[variable] = str(options[option])
    env.setdefault("PGCONNECT_TIMEOUT", "10")
    env["PGAPPNAME"] = "opsportal-backup"
    return env


def connect(db: dict, *, dbname: str | None = None, autocommit: bool = True) -> psycopg.Connection:
    kwargs = {
        "host": db.get("HOST") or None,
        "port": db.get("PORT") or None,
        "user": db.get("USER") or None,
        "password": db.get("PASSWORD") or None,
        "dbname": dbname or db["NAME"],
        "connect_timeout": 10,
        "application_name": "opsportal-backup",
    }
    options = db.get("OPTIONS") or {}
    for key in ("sslmode", "sslrootcert", "sslcert", "sslkey", "passfile"):
        if options.get(key):
            kwargs[key] = options[key]
    try:
        return psycopg.connect(autocommit=autocommit, **{k: v for k, v in kwargs.items() if v is not None})
    except psycopg.OperationalError as exc:
        raise ToolError(scrub(str(exc), db)) from None


def known_servers() -> list[dict]:
    """One settings dict per PostgreSQL server and user the portal reaches: its Django databases and those of
    BACKUP_DATABASE_URLS (where drills and in-place restores of those databases leave their side databases)."""
    from django.db import connections

    found: dict[tuple, dict] = {}
    databases = [connections[alias].settings_dict for alias in connections]
    for db in [*databases, *settings.BACKUP_DATABASE_URLS.values()]:
        if db.get("ENGINE") == "django.db.backends.postgresql":
            found.setdefault((db.get("HOST"), str(db.get("PORT") or ""), db.get("USER")), db)
    return list(found.values())


def server_version(conn: psycopg.Connection) -> tuple[int, str]:
    number = int(conn.execute("SHOW server_version_num").fetchone()[0])
    text = conn.execute("SHOW server_version").fetchone()[0]
    return number // 10000, text


def tool_path(tool: str, server_major: int | None = None) -> str:
    if settings.BACKUP_PG_BIN_DIR:
        candidate = Path(settings.BACKUP_PG_BIN_DIR) / tool
        if not candidate.is_file():
            raise ToolError(
                _("%(tool)s is not in BACKUP_PG_BIN_DIR (%(dir)s).") % {"tool": tool, "dir": candidate.parent}
            )
        return str(candidate)
    if server_major is not None:
        # Debian installs each major version's client tools side by side; prefer the server's own.
        candidate = Path(f"/usr/lib/postgresql/{server_major}/bin/{tool}")
        if candidate.is_file():
            return str(candidate)
    found = shutil.which(tool)
    if not found:
        raise ToolError(_("%(tool)s was not found on PATH; install the PostgreSQL client tools.") % {"tool": tool})
    return found


def tool_version(path: str) -> tuple[int, str]:
    """The tool's major version and its `--version` line; asked once per binary (a replaced binary is asked again)."""
    stat = os.stat(path)
    return _tool_version(path, stat.st_mtime_ns, stat.st_size, stat.st_ino)


@functools.lru_cache(maxsize=32)
def _tool_version(path: str, mtime_ns: int, size: int, inode: int) -> tuple[int, str]:
    output = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=30, check=True).stdout
    match = re.search(r"(\d+)(?:\.(\d+))?", output)
    if not match:
        raise ToolError(f"cannot read the version of {path}: {output!r}")
    return int(match.group(1)), output.strip()


def require_tool_not_older(tool: str, server_major: int, server_text: str) -> str:
    """The tool's path, or ToolError naming both versions when it is older than the server."""
    path = tool_path(tool, server_major)
    major, text = tool_version(path)
    if major < server_major:
        raise ToolError(
            _(
                "%(tool)s %(tool_version)s is older than the PostgreSQL server %(server_version)s; install the "
                "client tools of version %(major)s or set BACKUP_PG_BIN_DIR."
            )
            % {"tool": tool, "tool_version": text, "server_version": server_text, "major": server_major}
        )
    return path


def scrub(text: str, db: dict | None = None) -> str:
    """Remove passwords (the configured one and any in URLs) from a message before it is stored or shown."""
    if db and db.get("PASSWORD"):
        text = text.replace(str(db["PASSWORD"]), "********")
    text = re.sub(r"(://[^:/@\s]+:)[^@\s]+@", r"\1********@", text)
    return re.sub(r"(?i)(password\s*=\s*)\S+", r"\1********", text)


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def user_tables(conn: psycopg.Connection) -> list[tuple[str, str]]:
    rows = conn.execute(
        """
        SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
          AND n.nspname NOT LIKE 'pg_toast%' AND n.nspname NOT LIKE 'pg_temp%'
        ORDER BY 1, 2
        """
    ).fetchall()
    return [(schema, table) for schema, table in rows]


def row_counts(conn: psycopg.Connection) -> dict[str, int]:
    counts = {}
    for schema, table in user_tables(conn):
        query = f"SELECT count(*) FROM {quote_ident(schema)}.{quote_ident(table)}"  # noqa: S608 (quoted identifiers)
        counts[f"{schema}.{table}"] = conn.execute(query).fetchone()[0]
    return counts



# What pg_dump writes as data: the tables' own size (TOAST included), not their indexes nor the system catalogs.
# Measured on a table of 200,000 rows plus an index: pg_database_size 74.4 MB, this 47.6 MB, the dump 41.1 MB.
DATA_SIZE = """
    SELECT coalesce(sum(pg_table_size(c.oid)), 0) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE c.relkind IN ('r', 'm') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
"""


def database_data_size(db: dict) -> int:
    """A cheap estimate of a dump's size: pg_database_size without indexes and system catalogs (see DATA_SIZE).

    pg_table_size takes a lock on each table: when one is held exclusively (a migration, the test that holds pg_dump
    mid-dump), or the catalog is huge, it gives up within moments and answers pg_database_size, which takes none.
    """
    with connect(db) as conn:
        conn.execute("SET lock_timeout = '100ms'")
        conn.execute("SET statement_timeout = '5s'")
        try:
            with conn.transaction():
                return int(conn.execute(DATA_SIZE).fetchone()[0])
        except (psycopg.errors.LockNotAvailable, psycopg.errors.QueryCanceled):  # lock_timeout, statement_timeout
            return int(conn.execute("SELECT pg_database_size(current_database())").fetchone()[0])
