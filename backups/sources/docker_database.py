"""Refusing to stop the PostgreSQL the portal itself is connected to (the requirement's `db-data` volume).

Stopping a labelled container for a volume archive is right for an application, wrong for the database server that
holds the portal's own catalog: the stop cuts every connection mid-backup (SIGTERM: a smart shutdown that waits, then
SIGKILL and crash recovery). Such a volume is backed up online by the physical backup (pgBackRest in the container,
BACKUP_PGBACKREST_CONTAINER), so the volume backup refuses it in preflight, before anything is stopped.

A labelled container that uses the volume is that server when
- it carries `opsportal.backup.role=database` (the operator says so), or
- the volume holds a PostgreSQL data directory whose system identifier (`global/pg_control`, read through the
  read-only helper) is the one of a database the portal is connected to (`pg_control_system()`).
"""

from __future__ import annotations

import contextlib
import io
import struct
import tarfile
from dataclasses import dataclass
from pathlib import PurePosixPath

from django.db import connections
from django.utils.translation import gettext as _

from backups import postgres
from opsportal.lib.lazy import lazy_module

docker = lazy_module("docker")  # imported on first use: ~170 ms of start-up otherwise

ROLE_LABEL = "opsportal.backup.role"
POSTGRES_ENGINE = "django.db.backends.postgresql"
PG_CONTROL_MAX = 64 << 10  # pg_control is one 8 KiB page; anything larger is not one


@dataclass(frozen=True)
class ConnectedServer:
    alias: str
    system_identifier: int
    data_directory: str  # "" when this role may not read it


def connected_servers() -> list[ConnectedServer]:
    """The PostgreSQL servers behind this portal's database aliases (those that answer)."""
    servers = []
    for alias in connections:
        db = connections[alias].settings_dict
        if db.get("ENGINE") != POSTGRES_ENGINE:
            continue
        with contextlib.suppress(Exception), postgres.connect(db) as conn:
            identifier = conn.execute("SELECT system_identifier FROM pg_control_system()").fetchone()[0]
            data_directory = ""
            with contextlib.suppress(Exception):
                data_directory = conn.execute("SHOW data_directory").fetchone()[0]
            servers.append(ConnectedServer(alias, int(identifier), data_directory))
    return servers


def _read_pg_control(helper, path: str) -> int | None:
    """The system identifier in `path` (a pg_control file on the volume), or None if there is none."""
    try:
        chunks, _stat = helper.get_archive(path, chunk_size=1 << 16)
        data = bytearray()
        for chunk in chunks:
            data += chunk
            if len(data) > PG_CONTROL_MAX + 4096:
                return None
    except docker.errors.NotFound:
        return None
    with tarfile.open(fileobj=io.BytesIO(bytes(data))) as archive:
        member = next((m for m in archive.getmembers() if m.isfile()), None)
        handle = archive.extractfile(member) if member is not None else None
        head = handle.read(8) if handle is not None else b""
    return struct.unpack("<Q", head)[0] if len(head) == 8 else None


def _candidate_paths(container, volume: str, mount: str, servers: list[ConnectedServer]) -> list[str]:
    """Where a data directory would be on the helper's mount of the volume: its root, and the path a connected server
    names (its data_directory below the container's mount point of the volume)."""
    paths = {f"{mount}/global/pg_control"}
    for item in container.attrs.get("Mounts") or []:
        if item.get("Name") != volume:
            continue
        destination = PurePosixPath(item.get("Destination") or "/")
        for server in servers:
            with contextlib.suppress(ValueError):
                relative = PurePosixPath(server.data_directory).relative_to(destination) if server.data_directory \
                    else None
                if relative is not None:
                    paths.add(str(PurePosixPath(mount) / relative / "global" / "pg_control"))
    return sorted(paths)


def database_container_problem(client: docker.DockerClient, volume: str, containers: list, helper_factory) -> str:
    """A refusal message if a labelled container on `volume` is a database server the portal uses; else ""."""
    for container in containers:
        if (container.labels or {}).get(ROLE_LABEL) == "database":
            return _(
                "Container %(container)s is labelled %(label)s: its volume %(volume)s is a database's data and is "
                "not stopped for a file archive. Back it up with the physical backup (BACKUP_PGBACKREST_CONTAINER, "
                "see the backup guide) and leave %(volume)s out of BACKUP_DOCKER_VOLUMES."
            ) % {"container": container.name, "label": f"{ROLE_LABEL}=database", "volume": volume}
    servers = connected_servers()
    if not containers or not servers:
        return ""
    with helper_factory(client, volume, read_only=True) as helper:
        for container in containers:
            for path in _candidate_paths(container, volume, helper_mount(), servers):
                identifier = _read_pg_control(helper, path)
                match = next((s for s in servers if s.system_identifier == identifier), None)
                if match is not None:
                    return _(
                        "Container %(container)s runs the PostgreSQL server of database %(alias)s, which this portal "
                        "is connected to, on volume %(volume)s: stopping it for the archive would cut the portal off "
                        "mid-backup. Back it up online with the physical backup (BACKUP_PGBACKREST_CONTAINER, see "
                        "the backup guide) and leave %(volume)s out of BACKUP_DOCKER_VOLUMES."
                    ) % {"container": container.name, "alias": match.alias, "volume": volume}
    return ""


def helper_mount() -> str:
    from backups.sources.docker_volumes import MOUNT

    return MOUNT
