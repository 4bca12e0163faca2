"""Write var/secret_key (mode 0600) for the embedded default when no SECRET_KEY is configured."""

from __future__ import annotations

import os
import secrets
import sys
from pathlib import Path


def ensure_secret_key(var_dir: Path) -> Path | None:
    """Called by `make run` before Django starts (settings refuse to load without a key when DEBUG is off)."""
    if os.environ.get("SECRET_KEY") or os.environ.get("SECRET_KEY_FILE"):
        return None
    path = var_dir / "secret_key"
    if path.exists():
        return None
    var_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(secrets.token_urlsafe(50))
    return path


if __name__ == "__main__":
    base = Path(__file__).resolve().parents[1]
    written = ensure_secret_key(Path(os.environ.get("VAR_DIR") or base / "var"))
    if written:
        print(f"Generated {written} (keep it: sessions and signed links depend on it).", file=sys.stderr)
