"""Helpers to run the portal as a newcomer would: a clean environment with nothing but a VAR_DIR."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def clean_env(var_dir: Path, **extra: str) -> dict[str, str]:
    """No DATABASE_URL, no broker, no .env: only what a fresh shell has, and a private var/ folder."""
    env = {key: os.environ[key] for key in ("PATH", "HOME", "LANG") if key in os.environ}
    env.update({"VAR_DIR": str(var_dir), "ENV_FILE": "", "PYTHONUNBUFFERED": "1"})
    env.update(extra)
    return env


def manage(var_dir: Path, *args: str, check: bool = True, **extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=clean_env(var_dir, **extra),
        capture_output=True,
        text=True,
        timeout=120,
        check=check,
    )


def prepare(var_dir: Path) -> None:
    subprocess.run([sys.executable, "scripts/ensure_secret_key.py"], cwd=ROOT, env=clean_env(var_dir), check=True)
    manage(var_dir, "migrate", "--noinput")
