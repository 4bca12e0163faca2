"""Regenerate and check the translation catalogs (locale/<lang>/LC_MESSAGES/django.po and its compiled .mo).

One place for makemessages' arguments, so `make messages` (writes) and the test (checks a copy) agree.
"""

from __future__ import annotations

import gettext
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from django.conf import settings

from opsportal.i18n.pofile import po_entries

LANGUAGES = ["ja"]
# Not the portal's own user-facing code: tests, benchmarks, docs, scripts and run-time data. makemessages skips
# dot-folders (.venv, .git) and does not follow symlinks by itself.
IGNORED = ["tests", "bench", "docs", "scripts", "var", "node_modules", "staticfiles", "test-artifacts", "locale"]


def catalog_path(language: str, *, base: Path | None = None, suffix: str = "po") -> Path:
    return (base or Path(settings.BASE_DIR)) / "locale" / language / "LC_MESSAGES" / f"django.{suffix}"


def makemessages_command(language: str) -> list[str]:
    command = [sys.executable, "manage.py", "makemessages", "-l", language, "--no-obsolete", "--verbosity", "0"]
    for pattern in IGNORED:
        command += ["--ignore", pattern]
    return command


def catalog_update(*, base: Path) -> None:
    """Extract every marked string under `base` into its catalogs (existing translations are kept) and compile."""
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "opsportal.settings", "DEBUG": "true", "ENV_FILE": ""}
    for language in LANGUAGES:
        subprocess.run(makemessages_command(language), cwd=base, env=env, check=True)
        subprocess.run(
            ["msgfmt", "--check-format", "-o", str(catalog_path(language, base=base, suffix="mo")),
             str(catalog_path(language, base=base))],
            cwd=base, check=True,
        )


def catalog_problems() -> list[str]:
    """What is wrong with the committed catalogs: strings missing or left over, untranslated or fuzzy entries,
    placeholders lost in translation, and a compiled .mo that does not match its .po."""
    base = Path(settings.BASE_DIR)
    problems: list[str] = []
    with tempfile.TemporaryDirectory(prefix="opsportal-i18n-") as scratch:
        copy = Path(scratch) / "src"
        shutil.copytree(base, copy, symlinks=True, ignore=shutil.ignore_patterns(".*", "__pycache__", *IGNORED[:-1]))
        for language in LANGUAGES:
            committed_po = catalog_path(language)
            if not committed_po.exists():
                problems.append(f"{committed_po} does not exist: run `make messages`")
                continue
            committed = {entry.key: entry for entry in po_entries(committed_po)}
            subprocess.run(
                makemessages_command(language), cwd=copy, check=True,
                env={**os.environ, "DJANGO_SETTINGS_MODULE": "opsportal.settings", "DEBUG": "true", "ENV_FILE": ""},
            )
            fresh = {entry.key for entry in po_entries(catalog_path(language, base=copy))}
            problems += [f"{language}: not in the catalog yet: {key[1]!r}" for key in sorted(fresh - committed.keys(),
                                                                                            key=str)]
            problems += [f"{language}: no longer used: {key[1]!r}" for key in sorted(committed.keys() - fresh, key=str)]
            for entry in committed.values():
                if "fuzzy" in entry.flags:
                    problems.append(f"{language}: fuzzy: {entry.msgid!r}")
                if not entry.translated:
                    problems.append(f"{language}: untranslated: {entry.msgid!r}")
                problems += _placeholder_problems(language, entry)
            problems += _compiled_problems(language, Path(scratch))
    return problems


def _placeholder_problems(language: str, entry) -> list[str]:
    import re

    pattern = re.compile(r"%(?:\([a-z_]+\))?[-#0 +]*\d*(?:\.\d+)?[sdifgr%]|\{\{\s*[a-z_]+\s*\}\}|\{[a-z_]*\}")
    expected = sorted(pattern.findall(entry.msgid))
    problems = []
    for index, text in entry.msgstr.items():
        source = entry.msgid_plural if index and entry.msgid_plural else entry.msgid
        expected = sorted(pattern.findall(source))
        found = sorted(pattern.findall(text))
        # A Japanese plural form may drop %(n)s-free wording, never a named placeholder.
        if found != expected and not (entry.msgid_plural and set(found) <= set(expected) and found):
            problems.append(f"{language}: placeholders {expected} became {found} in {entry.msgid!r}")
    return problems


def _compiled_problems(language: str, scratch: Path) -> list[str]:
    compiled = catalog_path(language, suffix="mo")
    if not compiled.exists():
        return [f"{compiled} does not exist: run `make messages`"]
    fresh = scratch / f"{language}.mo"
    compiled_now = subprocess.run(
        ["msgfmt", "--check-format", "-o", str(fresh), str(catalog_path(language))], capture_output=True, text=True
    )
    if compiled_now.returncode:
        return [f"{language}: msgfmt refuses the catalog: {compiled_now.stderr.strip()}"]
    with compiled.open("rb") as committed_file, fresh.open("rb") as fresh_file:
        committed = gettext.GNUTranslations(committed_file)._catalog  # type: ignore[attr-defined]
        expected = gettext.GNUTranslations(fresh_file)._catalog  # type: ignore[attr-defined]
    committed.pop("", None)
    expected.pop("", None)
    if committed != expected:
        return [f"{compiled} is stale: run `make messages` (or msgfmt) and commit it"]
    return []
