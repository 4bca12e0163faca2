"""The entries of a gettext .po file, read with polib, in the shape the catalog checks compare."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import polib


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


def _entry(item: polib.POEntry) -> Entry:
    msgstr = {int(index): text for index, text in item.msgstr_plural.items()} if item.msgid_plural else {
        0: item.msgstr
    }
    return Entry(
        msgid=item.msgid,
        msgid_plural=item.msgid_plural,
        msgctxt=item.msgctxt,
        msgstr=msgstr,
        flags=set(item.flags),
        references=[f"{path}:{line}" if line else path for path, line in item.occurrences],
        obsolete=item.obsolete,
    )


def po_entries(path: Path) -> list[Entry]:
    """Every entry but the header (msgid "") and the obsolete ones (#~), in file order."""
    return [_entry(item) for item in polib.pofile(str(path), encoding="utf-8") if item.msgid and not item.obsolete]
