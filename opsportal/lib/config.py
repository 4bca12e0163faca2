"""Reading settings from the environment loudly: a bad value raises ImproperlyConfigured naming the variable."""

from __future__ import annotations

import os
import re
import sys
from datetime import timedelta
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)?\s*$")
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)")
_DURATION_COMPOUND = re.compile(r"^\s*(?:\d+(?:\.\d+)?\s*(?:ms|s|m|h|d|w)\s*)+$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, None: 1}

# Every SQLite database of the portal (the embedded default): web, worker and beat write the same file. A deferred
# transaction that reads, then writes, fails at once with "database is locked" when another process writes in
# between (no busy timeout helps it); IMMEDIATE takes the write lock at BEGIN, so writers queue for up to `timeout`
# seconds, and WAL lets readers go on meanwhile. DATABASE_URL=sqlite:///...?timeout=N overrides one of them.
SQLITE_OPTIONS: dict[str, object] = {
    "timeout": 20,
    "transaction_mode": "IMMEDIATE",
    "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL",
}


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name} must be true or false (1/0, yes/no, on/off), not {raw!r}.")


def env_int(name: str, default: int, *, minimum: int | None = None, maximum: int | None = None) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw.strip())
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number, not {raw!r}.") from None
    if minimum is not None and value < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, not {value}.")
    if maximum is not None and value > maximum:
        raise ImproperlyConfigured(f"{name} must be at most {maximum}, not {value}.")
    return value


def env_float(name: str, default: float, *, minimum: float | None = None, maximum: float | None = None) -> float:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = float(raw.strip())
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a number, not {raw!r}.") from None
    if minimum is not None and value < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, not {value}.")
    if maximum is not None and value > maximum:
        raise ImproperlyConfigured(f"{name} must be at most {maximum}, not {value}.")
    return value


def parse_duration(text: str) -> timedelta:
    """Parse '90s', '5m', '26h', '7d', '2w', '250ms', '1h30m' or a number of seconds; raise ValueError otherwise."""
    match = _DURATION.match(text)
    if match:
        number, unit = match.groups()
        return timedelta(seconds=float(number) * _UNIT_SECONDS[unit])
    if _DURATION_COMPOUND.match(text):
        return timedelta(seconds=sum(float(n) * _UNIT_SECONDS[u] for n, u in _DURATION_PART.findall(text)))
    raise ValueError(f"{text!r} is not a duration such as 30s, 5m, 1h30m, 26h, 7d")


def format_duration(value: timedelta) -> str:
    """The shortest text parse_duration reads back: 5m, 1h30m, 2d, 250ms (0s for zero)."""
    milliseconds = round(value.total_seconds() * 1000)
    if milliseconds % 1000:
        return f"{milliseconds}ms"
    seconds, parts = milliseconds // 1000, []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if seconds >= size:
            parts.append(f"{seconds // size}{unit}")
            seconds %= size
    return "".join(parts) or "0s"


def env_duration(name: str, default: str, *, allow_zero: bool = False) -> timedelta:
    raw = os.environ.get(name)
    text = default if raw is None or raw.strip() == "" else raw
    try:
        value = parse_duration(text)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a duration such as 30s, 5m, 26h or 7d, not {raw!r}.") from None
    if value < timedelta(0) or (value == timedelta(0) and not allow_zero):
        raise ImproperlyConfigured(f"{name} must be longer than zero, not {raw!r}.")
    return value


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return list(default)
    return [item.strip() for item in raw.split(",") if item.strip()]


def read_secret(name: str, *, default_file: Path | None = None) -> str:
    """A secret from NAME, or from the file named by NAME_FILE, or from default_file if it exists."""
    value = os.environ.get(name, "")
    if value:
        return value
    file_name = os.environ.get(f"{name}_FILE", "")
    if file_name:
        path = Path(file_name)
        if not path.is_file():
            raise ImproperlyConfigured(f"{name}_FILE points to {file_name!r}, which is not a readable file.")
        return path.read_text().strip()
    if default_file is not None and default_file.is_file():
        return default_file.read_text().strip()
    return ""


def multiproc_dir_problem(path: Path) -> str | None:
    """What is wrong with `path` as PROMETHEUS_MULTIPROC_DIR, or None (the settings and gunicorn.conf.py ask)."""
    if not path.is_dir():
        return "it is not an existing folder (create it, or leave the variable unset for VAR_DIR/prometheus)"
    if not os.access(path, os.W_OK | os.X_OK):
        return f"this process (uid {os.getuid()}) cannot write it"
    return None


def env_prometheus_multiproc_dir() -> Path | None:
    """PROMETHEUS_MULTIPROC_DIR: the folder where gunicorn's workers share their request histogram, or None.

    prometheus-client reads the variable itself, once, when it is imported: the mere name in the environment switches
    it to multiprocess mode. So an empty value (as in a copied .env.example) is removed here, before the apps import
    it; a set value must name an existing folder this process can write, or every timed request would fail on it.
    gunicorn.conf.py sets it to VAR_DIR/prometheus for gunicorn when it is unset.
    """
    name = "PROMETHEUS_MULTIPROC_DIR"
    raw = os.environ.get(name)
    if raw is not None and not raw.strip():
        del os.environ[name]
        raw = None
    if raw is None:
        return None
    path = Path(raw)
    problem = multiproc_dir_problem(path)
    if problem is not None:
        raise ImproperlyConfigured(f"{name}={raw}: {problem}")
    values = sys.modules.get("prometheus_client.values")
    if values is not None and not getattr(values.ValueClass, "_multiprocess", False):
        raise ImproperlyConfigured(
            f"{name} was set after prometheus_client was imported, so it is not in multiprocess mode; set it in the "
            "environment the process starts with."
        )
    return path


def broker_transport_options(broker_url: str, folder: Path) -> dict:
    """Transport options per broker: the filesystem transport keeps its queue folders under var/celery."""
    if broker_url.startswith("filesystem://"):
        queue = folder / "queue"
        processed = folder / "processed"
        control = folder / "control"
        for path in (queue, processed, control):
            path.mkdir(parents=True, exist_ok=True)
        return {
            # Without control_folder kombu writes its exchange table to ./control in the working directory.
            "control_folder": str(control),
            "data_folder_in": str(queue),
            "data_folder_out": str(queue),
            "processed_folder": str(processed),
            "store_processed": False,
            # The worker's loop waits on this transport up to 2 s plus one polling interval before it sees a stop
            # request; polling 10 times a second (a directory listing) keeps Ctrl-C under `make run` within 5 s.
            "polling_interval": 0.1,
        }
    if broker_url.startswith(("redis://", "rediss://", "sentinel://")):
        # A backup may run for hours; a shorter visibility timeout would hand its unacked message to another
        # worker mid-run. (The claim in the backup service makes such a redelivery harmless anyway.)
        return {"visibility_timeout": 12 * 3600}
    return {}
