"""`.env.example` documents every variable the portal reads, each with a comment."""

from __future__ import annotations

import re

from tests.opsportal.embedded import ROOT

READERS = re.compile(
    r"""(?:env_bool|env_int|env_float|env_duration|env_list|read_secret|os\.environ\.get|os\.getenv)\(\s*["']([A-Z][A-Z0-9_]+)["']"""
)
NOT_CONFIGURATION = {"DJANGO_SETTINGS_MODULE"}


def variables_read_by_the_portal() -> set[str]:
    names: set[str] = set()
    for folder in ("opsportal", "backups", "monitoring", "performance", "alerting"):
        for path in (ROOT / folder).rglob("*.py"):
            names |= set(READERS.findall(path.read_text()))
    return names - NOT_CONFIGURATION


def test_every_variable_is_documented_with_a_comment():
    lines = (ROOT / ".env.example").read_text().splitlines()
    documented = {}
    for index, line in enumerate(lines):
        match = re.match(r"^([A-Z][A-Z0-9_]+)=", line)
        if match:
            documented[match.group(1)] = index
    missing = variables_read_by_the_portal() - set(documented)
    assert not missing, f".env.example lacks {sorted(missing)}"
    for name, index in documented.items():
        # a comment line stands above the variable, or above the group of variables it belongs to
        above = index - 1
        while above >= 0 and re.match(r"^[A-Z][A-Z0-9_]+=", lines[above]):
            above -= 1
        assert above >= 0 and lines[above].startswith("#"), f"{name} has no comment above it"
