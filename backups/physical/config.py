"""The pgBackRest configuration the portal hands to every command: options through PGBACKREST_* variables.

pgBackRest reads every option from `PGBACKREST_<OPTION>` environment variables as well as from its config file, so
nothing the portal configures (least of all the repository passphrase) ever reaches a command line.
"""

from __future__ import annotations

import os
import pwd
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from django.conf import settings
from django.db import connections
from django.utils.translation import gettext as _


class PhysicalNotConfigured(Exception):
    """Physical backups are off (no stanza) or their configuration cannot work; the message says what to set."""


def enabled() -> bool:
    return bool(settings.BACKUP_PGBACKREST_STANZA)


def stanza() -> str:
    if not enabled():
        raise PhysicalNotConfigured(
            _("Physical backups are not configured: set BACKUP_PGBACKREST_STANZA (see the backup guide).")
        )
    return settings.BACKUP_PGBACKREST_STANZA


def database_alias() -> str:
    return settings.BACKUP_PGBACKREST_DATABASE


def database_settings() -> dict:
    """The backed-up cluster's connection: a DATABASES alias, or a postgres:// URL of a cluster Django does not use."""
    alias = database_alias()
    if "://" in alias:
        from backups.postgres import settings_dict_from_url

        return settings_dict_from_url(alias)
    if alias not in connections.settings:
        raise PhysicalNotConfigured(
            _("BACKUP_PGBACKREST_DATABASE names %(alias)s, which is not a configured database.") % {"alias": alias}
        )
    return connections.settings[alias]


def _read_secret_file(variable: str, path: str) -> str:
    try:
        value = Path(path).read_text().strip()
    except OSError as exc:
        raise PhysicalNotConfigured(
            _("%(variable)s points to %(path)s, which cannot be read: %(error)s")
            % {"variable": variable, "path": path, "error": exc.strerror or exc}
        ) from None
    if not value:
        raise PhysicalNotConfigured(_("%(variable)s points to an empty file.") % {"variable": variable})
    return value


def s3_endpoint() -> tuple[str, str]:
    """(host, port) of BACKUP_PGBACKREST_S3_ENDPOINT: `host`, `host:port` or `https://host[:port][/]`.

    The port goes to pgBackRest as repo1-storage-port, which wins over a port in the endpoint and in pgbackrest.conf;
    without one the endpoint's port would silently lose to a repo1-storage-port left in the config file.
    """
    raw = settings.BACKUP_PGBACKREST_S3_ENDPOINT.strip()
    parts = urlsplit(raw if "://" in raw else f"https://{raw}")
    try:
        port = parts.port
    except ValueError:
        port = -1
    if parts.scheme != "https" or not parts.hostname or port == -1 or parts.path not in ("", "/") or parts.query:
        raise PhysicalNotConfigured(
            _("BACKUP_PGBACKREST_S3_ENDPOINT is %(endpoint)s; pgBackRest needs a host name with an optional port "
              "(host, host:port or https://host:port): it speaks S3 only over HTTPS.") % {"endpoint": raw}
        )
    return parts.hostname, str(port) if port else ""


def cipher_pass() -> str:
    path = settings.BACKUP_PGBACKREST_CIPHER_PASS_FILE
    return _read_secret_file("BACKUP_PGBACKREST_CIPHER_PASS_FILE", path) if path else ""


def secrets_in_env() -> list[str]:
    """The secret values this configuration hands to pgBackRest, so error texts can be scrubbed of them."""
    values = []
    for variable, path in (
        ("BACKUP_PGBACKREST_CIPHER_PASS_FILE", settings.BACKUP_PGBACKREST_CIPHER_PASS_FILE),
        ("BACKUP_PGBACKREST_S3_KEY_FILE", settings.BACKUP_PGBACKREST_S3_KEY_FILE),
        ("BACKUP_PGBACKREST_S3_KEY_SECRET_FILE", settings.BACKUP_PGBACKREST_S3_KEY_SECRET_FILE),
    ):
        if path:
            try:
                values.append(_read_secret_file(variable, path))
            except PhysicalNotConfigured:
                continue
    password = database_settings().get("PASSWORD") if enabled() else ""
    return [value for value in [*values, password] if value]


@dataclass(frozen=True)
class RunAs:
    """The operating-system user pgBackRest runs as (the owner of the data directory), or None for this process's."""

    user: str | None

    @classmethod
    def from_settings(cls) -> RunAs:
        wanted = settings.BACKUP_PGBACKREST_USER
        if not wanted or settings.BACKUP_PGBACKREST_CONTAINER:  # in a container: docker exec --user
            return cls(None)
        try:
            entry = pwd.getpwnam(wanted)
        except KeyError:
            raise PhysicalNotConfigured(
                _("BACKUP_PGBACKREST_USER is %(user)s, which is not a user on this host.") % {"user": wanted}
            ) from None
        if entry.pw_uid == os.geteuid():
            return cls(None)
        if os.geteuid() != 0:
            raise PhysicalNotConfigured(
                _("BACKUP_PGBACKREST_USER is %(user)s but this process runs as another user and cannot switch; run "
                  "the worker as %(user)s or leave BACKUP_PGBACKREST_USER empty.") % {"user": wanted}
            )
        return cls(wanted)


def pgbackrest_env(*, with_secrets: bool = True) -> dict[str, str]:
    """The environment every pgbackrest command (and a cluster whose restore_command calls it) runs with."""
    db = database_settings()
    env = dict(os.environ)  # PGBACKREST_* set by the operator stay (tuning such as ARCHIVE_TIMEOUT); ours win
    options: dict[str, str] = {"STANZA": stanza()}
    if settings.BACKUP_PGBACKREST_CONFIG:
        options["CONFIG"] = settings.BACKUP_PGBACKREST_CONFIG
    if settings.BACKUP_PGBACKREST_PG_PATH:
        options["PG1_PATH"] = settings.BACKUP_PGBACKREST_PG_PATH
    # In a container pgbackrest reaches PostgreSQL through the container's own socket and port, not the published one.
    if db.get("PORT") and not settings.BACKUP_PGBACKREST_CONTAINER:
        options["PG1_PORT"] = str(db["PORT"])
    if db.get("USER") and not settings.BACKUP_PGBACKREST_CONTAINER:
        options["PG1_USER"] = str(db["USER"])
    if settings.BACKUP_PGBACKREST_PG_SOCKET_PATH:
        options["PG1_SOCKET_PATH"] = settings.BACKUP_PGBACKREST_PG_SOCKET_PATH
    if settings.BACKUP_PGBACKREST_REPO_PATH:
        options["REPO1_PATH"] = settings.BACKUP_PGBACKREST_REPO_PATH
    if settings.BACKUP_PGBACKREST_REPO_TYPE == "s3":
        host, port = s3_endpoint()
        options.update(
            REPO1_TYPE="s3",
            REPO1_S3_BUCKET=settings.BACKUP_PGBACKREST_S3_BUCKET,
            REPO1_S3_ENDPOINT=host,
            REPO1_STORAGE_PORT=port,
            REPO1_S3_REGION=settings.BACKUP_PGBACKREST_S3_REGION,
            REPO1_S3_URI_STYLE=settings.BACKUP_PGBACKREST_S3_URI_STYLE,
            REPO1_STORAGE_VERIFY_TLS="y" if settings.BACKUP_PGBACKREST_S3_VERIFY_TLS else "n",
            REPO1_STORAGE_CA_FILE=settings.BACKUP_PGBACKREST_S3_CA_FILE,
        )
    options["PROCESS_MAX"] = str(settings.BACKUP_PGBACKREST_PROCESS_MAX)
    if with_secrets:
        passphrase = cipher_pass()
        if passphrase:
            options.update(REPO1_CIPHER_TYPE="aes-256-cbc", REPO1_CIPHER_PASS=passphrase)
        if settings.BACKUP_PGBACKREST_REPO_TYPE == "s3":
            options["REPO1_S3_KEY"] = _read_secret_file(
                "BACKUP_PGBACKREST_S3_KEY_FILE", settings.BACKUP_PGBACKREST_S3_KEY_FILE
            )
            options["REPO1_S3_KEY_SECRET"] = _read_secret_file(
                "BACKUP_PGBACKREST_S3_KEY_SECRET_FILE", settings.BACKUP_PGBACKREST_S3_KEY_SECRET_FILE
            )
        if db.get("PASSWORD"):
            env["PGPASSWORD"] = str(db["PASSWORD"])
    env.update({f"PGBACKREST_{key}": value for key, value in options.items() if value})
    return env


def configuration_problems() -> list[tuple[str, str, str]]:
    """(id, message, hint) for every problem the system checks report; empty while physical backups are off."""
    if not enabled():
        return []
    problems: list[tuple[str, str, str]] = []
    import shutil

    if shutil.which(settings.BACKUP_PGBACKREST_BIN) is None:
        problems.append(("backups.E101", _("pgbackrest (%(bin)s) is not installed on this host.")
                         % {"bin": settings.BACKUP_PGBACKREST_BIN},
                         _("apt-get install pgbackrest, or set BACKUP_PGBACKREST_BIN.")))
    if (settings.BACKUP_PGBACKREST_CONFIG and not settings.BACKUP_PGBACKREST_CONTAINER
            and not Path(settings.BACKUP_PGBACKREST_CONFIG).is_file()):
        problems.append(("backups.E102", _("BACKUP_PGBACKREST_CONFIG points to %(path)s, which is not a file.")
                         % {"path": settings.BACKUP_PGBACKREST_CONFIG},
                         _("Create it (it may be empty when every option comes from the portal's settings).")))
    if "://" in settings.BACKUP_PGBACKREST_DATABASE:
        pass
    elif settings.BACKUP_PGBACKREST_DATABASE not in settings.DATABASES:
        problems.append(("backups.E103", _("BACKUP_PGBACKREST_DATABASE names %(alias)s, which is not a configured "
                                           "database.") % {"alias": settings.BACKUP_PGBACKREST_DATABASE},
                         _("Name an alias of DATABASES (default: default).")))
    elif "postgresql" not in settings.DATABASES[settings.BACKUP_PGBACKREST_DATABASE]["ENGINE"]:
        problems.append(("backups.E104", _("Physical backups need PostgreSQL; database %(alias)s is not.")
                         % {"alias": settings.BACKUP_PGBACKREST_DATABASE},
                         _("Leave BACKUP_PGBACKREST_STANZA empty on SQLite.")))
    if settings.BACKUP_PGBACKREST_REPO_TYPE == "s3":
        missing = [name for name in ("BACKUP_PGBACKREST_S3_BUCKET", "BACKUP_PGBACKREST_S3_ENDPOINT",
                                     "BACKUP_PGBACKREST_S3_REGION", "BACKUP_PGBACKREST_S3_KEY_FILE",
                                     "BACKUP_PGBACKREST_S3_KEY_SECRET_FILE") if not getattr(settings, name)]
        if missing:
            problems.append(("backups.E105", _("An S3 repository needs %(names)s.") % {"names": ", ".join(missing)},
                             _("pgBackRest speaks S3 itself; it needs the bucket, endpoint, region and keys.")))
        if settings.BACKUP_PGBACKREST_S3_ENDPOINT:
            try:
                s3_endpoint()
            except PhysicalNotConfigured as exc:
                problems.append(("backups.E109", str(exc), _("For example s3.eu-west-1.amazonaws.com or "
                                                             "https://minio.internal:9000.")))
        ca_file = settings.BACKUP_PGBACKREST_S3_CA_FILE
        if ca_file and not settings.BACKUP_PGBACKREST_CONTAINER and not os.access(ca_file, os.R_OK):
            problems.append(("backups.E110", _("BACKUP_PGBACKREST_S3_CA_FILE points to %(path)s, which cannot be read.")
                             % {"path": ca_file},
                             _("Point it at the PEM file of the CA that signed the S3 server's certificate.")))
    for variable in ("BACKUP_PGBACKREST_CIPHER_PASS_FILE", "BACKUP_PGBACKREST_S3_KEY_FILE",
                     "BACKUP_PGBACKREST_S3_KEY_SECRET_FILE"):
        path = getattr(settings, variable)
        if path:
            try:
                _read_secret_file(variable, path)
            except PhysicalNotConfigured as exc:
                problems.append(("backups.E106", str(exc), _("Point it at a readable, non-empty file.")))
    if not settings.BACKUP_PGBACKREST_CIPHER_PASS_FILE:
        problems.append(("backups.W107", _("Physical backups are not encrypted by the portal "
                                           "(BACKUP_PGBACKREST_CIPHER_PASS_FILE is empty)."),
                         _("Unless pgbackrest.conf sets repo1-cipher-pass, the repository is stored unencrypted.")))
    try:
        RunAs.from_settings()
    except PhysicalNotConfigured as exc:
        problems.append(("backups.E108", str(exc), _("Set BACKUP_PGBACKREST_USER to the data directory's owner.")))
    return problems
