"""Regenerate and check the translation catalogs (locale/<lang>/LC_MESSAGES/django.po and its compiled .mo), and
our catalog for installed packages that ship none in our languages (opsportal/i18n/third_party).

One place for makemessages' arguments, so `make messages` (writes) and the test (checks a copy) agree.
"""

from __future__ import annotations

import gettext
import importlib.metadata
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import django
from django.conf import settings

from opsportal.i18n.pofile import Entry, po_entries

LANGUAGES = ["ja"]
# Not the portal's own user-facing code: tests, benchmarks, docs, scripts and run-time data. makemessages skips
# dot-folders (.venv, .git) and does not follow symlinks by itself. "locale" also keeps makemessages from taking
# opsportal/i18n/third_party/locale for a catalog of the code around it.
IGNORED = ["tests", "bench", "docs", "scripts", "var", "node_modules", "staticfiles", "test-artifacts", "locale"]
# Installed packages whose strings we translate ourselves (import name: distribution). Their msgids are extracted
# from the installed source, so an upgrade that adds a string fails the check until it is translated.
THIRD_PARTY = {"django_celery_beat": "django-celery-beat"}
# The app holding that catalog; INSTALLED_APPS lists it before the packages, so its translations win.
THIRD_PARTY_APP = Path("opsportal") / "i18n" / "third_party"
PLACEHOLDER = re.compile(r"%(?:\([a-z_]+\))?[-#0 +]*\d*(?:\.\d+)?[sdifgr%]|\{\{\s*[a-z_]+\s*\}\}|\{[a-z_0-9]*\}")


def catalog_path(language: str, *, base: Path | None = None, suffix: str = "po") -> Path:
    return (base or Path(settings.BASE_DIR)) / "locale" / language / "LC_MESSAGES" / f"django.{suffix}"


def third_party_catalog_path(language: str, *, base: Path | None = None, suffix: str = "po") -> Path:
    locale = (base or Path(settings.BASE_DIR)) / THIRD_PARTY_APP / "locale"
    return locale / language / "LC_MESSAGES" / f"django.{suffix}"


def third_party_label(language: str) -> str:
    """How problems name the third-party catalog: the language and each package at its installed version."""
    packages = ", ".join(f"{name} {importlib.metadata.version(name)}" for name in THIRD_PARTY.values())
    return f"{language} ({packages})"


def makemessages_command(language: str) -> list[str]:
    command = [sys.executable, "manage.py", "makemessages", "-l", language, "--no-obsolete", "--verbosity", "0"]
    for pattern in IGNORED:
        command += ["--ignore", pattern]
    return command


def third_party_extract(language: str, *, scratch: Path, keep: Path | None = None) -> Path:
    """Every msgid of the installed THIRD_PARTY packages (makemessages over a copy of their source under `scratch`),
    with the translations of `keep` merged in when given. Returns the .po written under `scratch`."""
    for package in THIRD_PARTY:
        source = Path(importlib.util.find_spec(package).origin).parent
        shutil.copytree(source, scratch / package, ignore=shutil.ignore_patterns("__pycache__", "locale"))
    po = scratch / "locale" / language / "LC_MESSAGES" / "django.po"
    po.parent.mkdir(parents=True)
    if keep is not None:
        shutil.copyfile(keep, po)
    # Without settings makemessages writes only into ./locale (with ours it would also consider LOCALE_PATHS).
    env = {name: value for name, value in os.environ.items() if name != "DJANGO_SETTINGS_MODULE"}
    subprocess.run(
        [sys.executable, "-m", "django", "makemessages", "-l", language, "--no-obsolete", "--verbosity", "0"],
        cwd=scratch, env=env, check=True,
    )
    return po


def catalog_update(*, base: Path) -> None:
    """Extract every marked string under `base` into its catalogs (existing translations are kept) and compile; the
    same for the third-party catalog, from the installed packages' source."""
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "opsportal.settings", "DEBUG": "true", "ENV_FILE": ""}
    for language in LANGUAGES:
        subprocess.run(makemessages_command(language), cwd=base, env=env, check=True)
        _compile(catalog_path(language, base=base), catalog_path(language, base=base, suffix="mo"))
        _third_party_update(language, base=base)


def _compile(po: Path, mo: Path) -> None:
    subprocess.run(["msgfmt", "--check-format", "-o", str(mo), str(po)], check=True)


def _third_party_update(language: str, *, base: Path) -> None:
    committed = third_party_catalog_path(language, base=base)
    committed.parent.mkdir(parents=True, exist_ok=True)
    if not committed.exists():
        committed.write_text(_new_header(language), encoding="utf-8")
    with tempfile.TemporaryDirectory(prefix="opsportal-i18n-") as scratch:
        shutil.copyfile(third_party_extract(language, scratch=Path(scratch), keep=committed), committed)
    _compile(committed, third_party_catalog_path(language, base=base, suffix="mo"))


def _new_header(language: str) -> str:
    """A header msgmerge keeps (makemessages' own is fuzzy, so msgfmt would drop it and its Plural-Forms)."""
    django_mo = Path(django.__file__).parent / "conf" / "locale" / language / "LC_MESSAGES" / "django.mo"
    with django_mo.open("rb") as file:
        plural_forms = gettext.GNUTranslations(file).info()["plural-forms"]
    lines = [
        f"# {language} translation of installed packages that ship none: {', '.join(THIRD_PARTY.values())}.",
        "# Regenerate with `make messages`; see docs/guides/README.ja.md.",
        'msgid ""',
        'msgstr ""',
        '"Project-Id-Version: OpsPortal (third-party strings)\\n"',
        '"PO-Revision-Date: YEAR-MO-DA HO:MI+ZONE\\n"',
        '"Last-Translator: OpsPortal team\\n"',
        f'"Language-Team: {language}\\n"',
        f'"Language: {language}\\n"',
        '"MIME-Version: 1.0\\n"',
        '"Content-Type: text/plain; charset=UTF-8\\n"',
        '"Content-Transfer-Encoding: 8bit\\n"',
        f'"Plural-Forms: {plural_forms}\\n"',
    ]
    return "\n".join(lines) + "\n"


def catalog_problems() -> list[str]:
    """What is wrong with the committed catalogs: strings missing or left over, untranslated or fuzzy entries,
    placeholders lost in translation, and a compiled .mo that does not match its .po. The third-party catalog is
    held to the same rules against the strings of the installed packages."""
    base = Path(settings.BASE_DIR)
    problems: list[str] = []
    with tempfile.TemporaryDirectory(prefix="opsportal-i18n-") as scratch:
        copy = Path(scratch) / "src"
        shutil.copytree(base, copy, symlinks=True, ignore=shutil.ignore_patterns(".*", "__pycache__", *IGNORED[:-1]))
        for language in LANGUAGES:
            committed_po = catalog_path(language)
            if not committed_po.exists():
                problems.append(f"{committed_po} does not exist: run `make messages`")
            else:
                subprocess.run(
                    makemessages_command(language), cwd=copy, check=True,
                    env={**os.environ, "DJANGO_SETTINGS_MODULE": "opsportal.settings", "DEBUG": "true",
                         "ENV_FILE": ""},
                )
                fresh = {entry.key for entry in po_entries(catalog_path(language, base=copy))}
                problems += _entry_problems(language, po_entries(committed_po), fresh)
                problems += _compiled_problems(language, committed_po, catalog_path(language, suffix="mo"),
                                               Path(scratch) / f"{language}.mo")
            problems += _third_party_problems(language, scratch=Path(scratch) / f"third-party-{language}")
    return problems


def _third_party_problems(language: str, *, scratch: Path) -> list[str]:
    committed_po = third_party_catalog_path(language)
    if not committed_po.exists():
        return [f"{committed_po} does not exist: run `make messages`"]
    label = third_party_label(language)
    fresh = {entry.key for entry in po_entries(third_party_extract(language, scratch=scratch))}
    return _entry_problems(label, po_entries(committed_po), fresh) + _compiled_problems(
        label, committed_po, third_party_catalog_path(language, suffix="mo"), scratch / "fresh.mo"
    )


def _entry_problems(label: str, entries: list[Entry], fresh: set) -> list[str]:
    """Keys makemessages finds that the catalog lacks or the reverse, and each entry's own faults."""
    committed = {entry.key: entry for entry in entries}
    problems = [f"{label}: not in the catalog yet: {key[1]!r}" for key in sorted(fresh - committed.keys(), key=str)]
    problems += [f"{label}: no longer used: {key[1]!r}" for key in sorted(committed.keys() - fresh, key=str)]
    for entry in entries:
        if "fuzzy" in entry.flags:
            problems.append(f"{label}: fuzzy: {entry.msgid!r}")
        if not entry.translated:
            problems.append(f"{label}: untranslated: {entry.msgid!r}")
        problems += _placeholder_problems(label, entry)
    return problems


def _placeholder_problems(label: str, entry: Entry) -> list[str]:
    problems = []
    for index, text in entry.msgstr.items():
        source = entry.msgid_plural if index and entry.msgid_plural else entry.msgid
        expected = sorted(PLACEHOLDER.findall(source))
        found = sorted(PLACEHOLDER.findall(text))
        # A Japanese plural form may drop %(n)s-free wording, never a named placeholder.
        if found != expected and not (entry.msgid_plural and set(found) <= set(expected) and found):
            problems.append(f"{label}: placeholders {expected} became {found} in {entry.msgid!r}")
    return problems


def _compiled_problems(label: str, po: Path, compiled: Path, fresh: Path) -> list[str]:
    if not compiled.exists():
        return [f"{compiled} does not exist: run `make messages`"]
    fresh.parent.mkdir(parents=True, exist_ok=True)
    compiled_now = subprocess.run(["msgfmt", "--check-format", "-o", str(fresh), str(po)], capture_output=True,
                                  text=True)
    if compiled_now.returncode:
        return [f"{label}: msgfmt refuses the catalog: {compiled_now.stderr.strip()}"]
    with compiled.open("rb") as committed_file, fresh.open("rb") as fresh_file:
        committed = gettext.GNUTranslations(committed_file)._catalog  # type: ignore[attr-defined]
        expected = gettext.GNUTranslations(fresh_file)._catalog  # type: ignore[attr-defined]
    committed.pop("", None)
    expected.pop("", None)
    if committed != expected:
        return [f"{compiled} is stale: run `make messages` (or msgfmt) and commit it"]
    return []
