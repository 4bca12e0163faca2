"""Every command of the portal answers `--help`, in English and in Japanese (a lazy translation handed to argparse
once made `seeddemo`, `monitor` and `updatelocale --help` crash with a traceback)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from django.core.management import get_commands, load_command_class
from django.utils import translation

from tests.conftest import ROOT

PORTAL_APPS = ("backups", "monitoring", "performance", "alerting", "opsportal")
COMMANDS = sorted(name for name, app in get_commands().items() if app.split(".")[0] in PORTAL_APPS)


def test_the_portal_has_its_commands():
    assert {"backup", "restore", "monitor", "seeddemo", "updatelocale", "perfcheck"} <= set(COMMANDS)


@pytest.mark.parametrize("language", ["en", "ja"])
@pytest.mark.parametrize("name", COMMANDS)
def test_help_works(name, language):
    command = load_command_class(get_commands()[name], name)
    with translation.override(language):
        text = command.create_parser("manage.py", name).format_help()
    assert text.startswith(f"usage: manage.py {name}")


def test_help_through_manage_py_in_japanese():
    done = subprocess.run([sys.executable, "manage.py", "seeddemo", "--help"], cwd=ROOT, capture_output=True,
                          text=True, timeout=60, env={**os.environ, "LANGUAGE_CODE": "ja"})
    assert done.returncode == 0, done.stderr
    assert "日" in done.stdout  # the description, in Japanese
