"""Restore a PostgreSQL database in place by building it beside the live one, then swapping the names in one step.

`pg_restore -j N` (BACKUP_RESTORE_JOBS) needs a file, so the stored artifact is first decoded to a private temporary
file (removed always): in memory (BACKUP_RESTORE_MEMORY_DIR, /dev/shm) when it fits, else under VAR_DIR/restore-tmp;
the new database is created while it decodes. It restores into a new database `<name>__restoring_<id>` (from
template0, with the live one's owner, encoding and locale); for the portal's own database the caller's `prepare`
then runs the migrations and the catalog repair inside it. Only then, in ONE transaction on the maintenance
database `postgres`: the live database is closed to new connections, its sessions are terminated, it is renamed
`<name>__before_restore_<id>` and the new one is renamed `<name>` (ALTER DATABASE RENAME is transactional). So a
SIGKILL at any moment leaves the old database under its name (the new one is dropped by the reaper) or the new one,
complete and with its catalog right; never a missing name, never a half-restored database.

The replaced database is dropped right after the swap, unless BACKUP_RESTORE_KEEP_PREVIOUS=true keeps it as an undo
(then it is dropped by hand). Ownership of the databases of a running restore is an advisory lock held by the
restore's connection to `postgres`, released by the server when its process dies: the reaper drops every
`__restoring_` database (and, unless kept, `__before_restore_` one) whose lock it can take.
"""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import logging
import os
import re
import signal
import stat as stat_module
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import psycopg
from django.conf import settings
from django.db import connections
from django.utils.translation import gettext as _
from psycopg import sql

from backups import postgres
from backups.models import BackupArtifact
from backups.pipeline import decoded
from backups.sources.base import SourceError
from backups.storage import backup_storage, open_stored

logger = logging.getLogger("backups")

RESTORING = "__restoring_"
BEFORE = "__before_restore_"
RESTORE_JOBS_DEFAULT = 2
RESTORE_JOBS_MAX = 64
NAME_MAX = 63  # PostgreSQL identifiers
BASE_MAX = NAME_MAX - len(BEFORE) - 10  # the live name's part in its side databases' names (ids up to 10 digits)
_PR_SET_PDEATHSIG = 1
DECODE_CHUNK = 1 << 20
MEMORY_FS_SPARE = 64 << 20  # left free in the tmpfs besides the decoded file
MEMORY_SPARE = 512 << 20  # memory left available after it, at least (and a quarter of the total)
_LEFTOVER = re.compile(rf"^(?P<base>.+)(?P<kind>{RESTORING}|{BEFORE})(?P<id>\d+)$")


def restore_jobs_problem(raw: str) -> str | None:
    try:
        value = int(str(raw).strip())
    except ValueError:
        return _("not a whole number")
    if not 1 <= value <= RESTORE_JOBS_MAX:
        return _("must be from 1 to %(max)s") % {"max": RESTORE_JOBS_MAX}
    return None


def restore_jobs() -> int:
    """pg_restore -j: BACKUP_RESTORE_JOBS, or the default while it is bad (the system check reports it)."""
    raw = settings.BACKUP_RESTORE_JOBS
    return RESTORE_JOBS_DEFAULT if restore_jobs_problem(raw) else int(str(raw).strip())


def side_name(name: str, kind: str, restore_id: int) -> str:
    return f"{name[:BASE_MAX]}{kind}{restore_id}"


def _lock_key(live: str, restore_id: int) -> int:
    """The advisory lock owning a restore's side databases: per database name, as restore ids are per catalog."""
    digest = hashlib.sha256(f"opsportal-restore-swap:{live[:BASE_MAX]}:{restore_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def _die_with_parent() -> None:
    """In pg_restore: SIGKILL it when the worker that started it dies (Linux), so it stops writing at once."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def temp_folder() -> Path:
    folder = Path(settings.VAR_DIR) / "restore-tmp"
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    return folder


def _mem_available() -> tuple[int, int] | None:
    """(MemAvailable, MemTotal) in bytes from /proc/meminfo, or None where there is none."""
    figures = {}
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                key, _sep, rest = line.partition(":")
                if key in ("MemAvailable", "MemTotal"):
                    figures[key] = int(rest.split()[0]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    if len(figures) != 2:
        return None
    return figures["MemAvailable"], figures["MemTotal"]


def memory_folder(size: int) -> Path | None:
    """A private folder in BACKUP_RESTORE_MEMORY_DIR (tmpfs) for a decoded artifact of `size` bytes, if it fits.

    It fits when the file system has `size` + 64 MiB free and the memory still available after it is at least
    a quarter of the total (and at least 512 MiB) for PostgreSQL and pg_restore. Else None: decode to disk. The
    folder is per installation (named after VAR_DIR's hash), mode 0700 and ours, or it is not used.
    """
    base = settings.BACKUP_RESTORE_MEMORY_DIR
    memory = _mem_available()
    if not base or memory is None:
        return None
    available, total = memory
    try:
        stat = os.statvfs(base)
    except OSError:
        return None
    if stat.f_bavail * stat.f_frsize < size + MEMORY_FS_SPARE or available - size < max(MEMORY_SPARE, total // 4):
        return None
    key = hashlib.sha256(str(Path(settings.VAR_DIR).resolve()).encode()).hexdigest()[:12]
    folder = Path(base) / f"opsportal-restore-{key}"
    try:
        with contextlib.suppress(FileExistsError):
            folder.mkdir(mode=0o700)
        info = folder.lstat()
    except OSError:
        return None
    if not stat_module.S_ISDIR(info.st_mode) or info.st_uid != os.getuid() or info.st_mode & 0o077:
        return None  # a link, someone else's folder or one others can read: not for a database's contents
    return folder


class _Stopped(Exception):
    pass


@contextlib.contextmanager
def decoding_file(artifact: BackupArtifact, *, on_bytes: Callable[[int], None] | None = None) -> Iterator[Future]:
    """Start decoding the artifact's original bytes into a private temporary file (mode 0600) in a thread.

    Yields a future of its path, so the caller can do other work (create the new database) meanwhile. The file is
    in memory (tmpfs, see memory_folder) when it fits, else under VAR_DIR/restore-tmp; it is removed when the block
    ends, after the decoding stopped. `on_bytes` is told the size of each decoded chunk (a restore's progress).
    """
    prefix = f"restore-{artifact.run_id}-"
    folder = memory_folder(artifact.raw_bytes or 0)
    try:
        fd, name = tempfile.mkstemp(prefix=prefix, suffix=".pgdump", dir=folder or temp_folder())
    except OSError:
        if folder is None:
            raise
        folder = None  # the memory folder went away (removed by a restore that just ended): on disk then
        fd, name = tempfile.mkstemp(prefix=prefix, suffix=".pgdump", dir=temp_folder())
    path = Path(name)
    stop = threading.Event()

    def decode() -> Path:
        with (
            os.fdopen(fd, "wb") as out,
            open_stored(backup_storage(), artifact.path) as handle,
            decoded(handle, encrypted=artifact.encrypted, limit=artifact.raw_bytes, on_bytes=on_bytes) as reader,
        ):
            while chunk := reader.read(DECODE_CHUNK):
                if stop.is_set():
                    raise _Stopped
                out.write(chunk)
        return path

    try:
        with ThreadPoolExecutor(1, thread_name_prefix="restore-decode") as pool:
            future = pool.submit(decode)
            try:
                yield future
            finally:
                stop.set()  # the block ended (or failed) before the decoding did: stop it; the pool waits for it
    finally:
        path.unlink(missing_ok=True)
        if folder is not None:
            with contextlib.suppress(OSError):
                folder.rmdir()  # left only when empty: no folder per installation stays in memory for nothing


@contextlib.contextmanager
def decoded_file(artifact: BackupArtifact, *, on_bytes: Callable[[int], None] | None = None) -> Iterator[Path]:
    """The artifact's original bytes in a private temporary file (see decoding_file), removed when the block ends."""
    with decoding_file(artifact, on_bytes=on_bytes) as pending:
        yield pending.result()


def temp_files_reap() -> list[Path]:
    """Remove decoded artifacts of restores whose worker died (older than BACKUP_STALE_AFTER), on disk and in memory."""
    removed = []
    folders = [Path(settings.VAR_DIR) / "restore-tmp"]
    if settings.BACKUP_RESTORE_MEMORY_DIR:
        key = hashlib.sha256(str(Path(settings.VAR_DIR).resolve()).encode()).hexdigest()[:12]
        folders.append(Path(settings.BACKUP_RESTORE_MEMORY_DIR) / f"opsportal-restore-{key}")
    limit = time.time() - settings.BACKUP_STALE_AFTER.total_seconds()
    for folder in folders:
        for path in folder.glob("restore-*.pgdump") if folder.is_dir() else []:
            with contextlib.suppress(OSError):
                if path.stat().st_mtime < limit:
                    path.unlink()
                    removed.append(path)
    return removed


def pg_restore_jobs(db: dict, path: Path, *, jobs: int, log: Callable[[str], None]) -> None:
    """pg_restore -j `jobs` of a custom-format file into the (new, empty) database `db`."""
    with postgres.connect(db, dbname="postgres") as conn:
        major, text = postgres.server_version(conn)
    pg_restore = postgres.require_tool_not_older("pg_restore", major, text)
    command = [pg_restore, "-j", str(jobs), "--exit-on-error", "--no-password"]
    if settings.BACKUP_RESTORE_NO_OWNER:
        command.append("--no-owner")
    command += ["--dbname", db["NAME"], str(path)]
    log(f"running {' '.join(command)}")
    with tempfile.TemporaryFile() as stderr:
        code = subprocess.run(  # noqa: PLW1509 (preexec only calls prctl)
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            env=postgres.pg_env(db),
            preexec_fn=_die_with_parent,
            check=False,
        ).returncode
        if code != 0:
            stderr.seek(0)
            message = stderr.read().decode(errors="replace").strip()
            raise SourceError(postgres.scrub(f"pg_restore exited with {code}: {message}", db))


def create_like(conn: psycopg.Connection, model: str, name: str) -> None:
    """CREATE DATABASE `name` from template0 with the owner, encoding and locale of database `model`."""
    row = conn.execute(
        "SELECT pg_get_userbyid(datdba), pg_encoding_to_char(encoding), datcollate, datctype "
        "FROM pg_database WHERE datname = %s",
        [model],
    ).fetchone()
    if row is None:
        raise SourceError(_("Database %(name)s does not exist.") % {"name": model})
    owner, encoding, collate, ctype = row
    conn.execute(
        sql.SQL("CREATE DATABASE {} TEMPLATE template0 OWNER {} ENCODING {} LC_COLLATE {} LC_CTYPE {}").format(
            sql.Identifier(name), sql.Identifier(owner), sql.Literal(encoding), sql.Literal(collate), sql.Literal(ctype)
        )
    )


def _drop(conn: psycopg.Connection, name: str) -> None:
    conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def _close_django_connections_to(name: str) -> None:
    for alias in connections:
        if connections[alias].settings_dict.get("NAME") == name:
            connections[alias].close()


def swap_in(conn: psycopg.Connection, live: str, new: str, before: str, *, attempts: int = 10) -> None:
    """In one transaction: close `live` to connections, end its sessions, rename live → before and new → live."""
    for attempt in range(1, attempts + 1):
        try:
            with conn.transaction():
                # inside the transaction, so a kill before the commit cannot leave the live database unconnectable
                conn.execute(sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS false").format(sql.Identifier(live)))
                conn.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = ANY(%s) AND pid <> pg_backend_pid()",
                    [[live, new]],
                )
                # RENAME waits up to 5 s for the terminated sessions to go; one that connected meanwhile fails it
                conn.execute(
                    sql.SQL("ALTER DATABASE {} RENAME TO {}").format(sql.Identifier(live), sql.Identifier(before))
                )
                conn.execute(
                    sql.SQL("ALTER DATABASE {} RENAME TO {}").format(sql.Identifier(new), sql.Identifier(live))
                )
            return
        except psycopg.errors.ObjectInUse:
            if attempt == attempts:
                raise
            time.sleep(0.2)


def swap_restore(
    db: dict,
    artifact: BackupArtifact,
    restore_id: int,
    *,
    log: Callable[[str], None],
    prepare: Callable[[dict], None] | None = None,
    later: list[Callable[[], None]] | None = None,
    on_bytes: Callable[[int], None] | None = None,
) -> None:
    """Restore `artifact` over database `db` all or nothing: built beside it with pg_restore -j, then swapped in.

    The previous database is dropped after the swap (unless BACKUP_RESTORE_KEEP_PREVIOUS): at once, or, given
    `later`, by a callable appended to it, so the caller can record the restore first (DROP DATABASE waits for a
    checkpoint and removes every file: seconds that are not part of the time to a live restored database). If the
    process dies first, the reaper drops it.
    """
    live = db["NAME"]
    new = side_name(live, RESTORING, restore_id)
    before = side_name(live, BEFORE, restore_id)
    new_db = {**db, "NAME": new}
    owner = postgres.connect(db, dbname="postgres")
    swapped = False
    try:
        # taken before the database exists, so the reaper never sees it unowned while this restore lives
        owner.execute("SELECT pg_advisory_lock(%s)", [_lock_key(live, restore_id)])
        # decoding starts first (pg_restore -j needs the whole file); the new database is created meanwhile
        with decoding_file(artifact, on_bytes=on_bytes) as pending:
            _drop(owner, new)  # a leftover of an earlier delivery of this very restore
            create_like(owner, live, new)
            log(f"restoring into the new database {new}; {live} stays as it is until the swap")
            path = pending.result()
            log(f"decoded to {path.parent}")
            pg_restore_jobs(new_db, path, jobs=restore_jobs(), log=log)
        if prepare is not None:
            prepare(new_db)
        _close_django_connections_to(new)
        _close_django_connections_to(live)
        started = time.monotonic()
        swap_in(owner, live, new, before)
        swapped = True
        log(
            f"swapped in: {live} is the restored database (swap {time.monotonic() - started:.2f}s); "
            f"the previous one is {before}"
        )
        if not settings.BACKUP_RESTORE_KEEP_PREVIOUS:
            if later is None:
                drop_previous(db, before, log)
            else:
                later.append(lambda: drop_previous(db, before, log))
    except psycopg.Error as exc:
        raise SourceError(postgres.scrub(str(exc), db)) from None
    finally:
        if not swapped:
            with contextlib.suppress(Exception):
                _drop(owner, new)
        with contextlib.suppress(Exception):
            owner.close()  # ends the session: the lock goes with it


def drop_previous(db: dict, before: str, log: Callable[[str], None]) -> None:
    try:
        with postgres.connect(db, dbname="postgres") as conn:
            _drop(conn, before)
    except Exception as exc:  # the restore is done; the reaper drops it on its next tick
        logger.warning("could not drop %s after an in-place restore: %s", before, exc)
        return
    log(f"dropped {before} (BACKUP_RESTORE_KEEP_PREVIOUS=false)")


def restore_databases_reap() -> list[str]:
    """Drop databases of in-place restores whose worker died (their lock is free); return their names."""
    dropped: list[str] = []
    for db in postgres.known_servers():
        try:
            with postgres.connect(db, dbname="postgres") as conn:
                names = [
                    row[0]
                    for row in conn.execute(
                        "SELECT datname FROM pg_database WHERE datname LIKE %s OR datname LIKE %s",
                        ["%" + RESTORING.replace("_", r"\_") + "%", "%" + BEFORE.replace("_", r"\_") + "%"],
                    )
                ]
                for name in names:
                    match = _LEFTOVER.match(name)
                    if match is None:
                        continue
                    if match["kind"] == BEFORE and settings.BACKUP_RESTORE_KEEP_PREVIOUS:
                        continue  # an undo kept on purpose
                    key = _lock_key(match["base"], int(match["id"]))
                    if not conn.execute("SELECT pg_try_advisory_lock(%s)", [key]).fetchone()[0]:
                        continue  # its restore is still running
                    try:
                        _drop(conn, name)
                        dropped.append(name)
                        logger.warning("dropped %s, left by an in-place restore whose worker is gone", name)
                    finally:
                        conn.execute("SELECT pg_advisory_unlock(%s)", [key])
        except Exception:  # one unreachable server must not stop the reaper's other work
            logger.warning(
                "could not look for leftover restore databases on %s:%s", db.get("HOST"), db.get("PORT"), exc_info=True
            )
    return dropped
