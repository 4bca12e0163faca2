"""Small files that must survive a crash the moment after they are written (journals, holds, markers)."""

from __future__ import annotations

import json
import os
from pathlib import Path


def write_json_durably(path: Path, data: object) -> Path:
    """Write JSON to `path` atomically (a temporary file, fsync, rename, fsync of the folder), private (0600).

    The folder is created 0700 if missing. A reader sees the old file or the new one, never half of one, and the new
    one is on disk when this returns.
    """
    folder = path.parent
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    temporary = folder / f".{path.name}.tmp"
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump(data, out)
        out.flush()
        os.fsync(out.fileno())
    os.replace(temporary, path)
    folder_fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(folder_fd)
    finally:
        os.close(folder_fd)
    return path
