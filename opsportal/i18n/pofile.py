"""A small reader for the gettext .po files makemessages writes: enough to compare catalogs and find gaps.

No third-party dependency (polib) for ~60 lines; the format read is the one GNU gettext writes.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Entry:
    msgid: str = ""
    msgid_plural: str = ""
    msgctxt: str | None = None
    msgstr: dict[int, str] = field(default_factory=dict)
    flags: set[str] = field(default_factory=set)
    references: list[str] = field(default_factory=list)
    obsolete: bool = False

    @property
    def key(self) -> tuple[str | None, str, str]:
        return (self.msgctxt, self.msgid, self.msgid_plural)

    @property
    def translated(self) -> bool:
        return bool(self.msgstr) and all(self.msgstr.values())


def po_entries(path: Path) -> list[Entry]:
    """Every entry but the header (msgid ""), in file order."""
    entries: list[Entry] = []
    entry = Entry()
    target: tuple[str, int] | None = None
    started = False

    def finish() -> None:
        nonlocal entry, started, target
        if started and entry.msgid:
            entries.append(entry)
        entry, started, target = Entry(), False, None

    for raw in path.read_text(encoding="utf-8").splitlines() + [""]:
        line = raw.strip()
        if not line:
            finish()
            continue
        if line.startswith("#~"):
            entry.obsolete = True
            continue
        if line.startswith("#,"):
            entry.flags.update(flag.strip() for flag in line[2:].split(","))
            continue
        if line.startswith("#:"):
            entry.references += line[2:].split()
            continue
        if line.startswith("#"):
            continue
        if line.startswith('"'):
            _append(entry, target, ast.literal_eval(line))
            continue
        keyword, _, rest = line.partition(" ")
        if keyword in ("msgctxt", "msgid") and started and keyword == "msgctxt":
            finish()
        started = True
        value = ast.literal_eval(rest)
        if keyword.startswith("msgstr["):
            target = ("msgstr", int(keyword[7:-1]))
        elif keyword == "msgstr":
            target = ("msgstr", 0)
        else:
            target = (keyword, 0)
        _append(entry, target, value, first=True)
    return [item for item in entries if not item.obsolete]


def _append(entry: Entry, target: tuple[str, int] | None, text: str, *, first: bool = False) -> None:
    if target is None:
        return
    name, index = target
    if name == "msgstr":
        entry.msgstr[index] = ("" if first else entry.msgstr.get(index, "")) + text
    elif name == "msgctxt":
        entry.msgctxt = ("" if first else entry.msgctxt or "") + text
    else:
        setattr(entry, name, ("" if first else getattr(entry, name)) + text)
