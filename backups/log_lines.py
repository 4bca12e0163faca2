"""Run and restore logs in the reader's language.

The backup and restore pipelines write their log as English lines ("2026-12-04 03:00:01 database: started"). Each
line the portal writes comes from one of the msgids below; when a log is shown, a line that matches one is shown
translated with the same parameters (the source's name, a byte count, an error text: data, kept as they are). Lines
the tools print (pg_restore's output, a traceback) and lines of an older format are shown as they are, so every log
ever stored stays readable.
"""

from __future__ import annotations

import re
from functools import cache

from django.utils.translation import gettext, gettext_noop

# The most specific first: "%(source)s: started" must not take "failed: …".
LINES = [
    gettext_noop("succeeded"),
    gettext_noop("succeeded (as of the swap)"),
    gettext_noop("migrations applied"),
    gettext_noop("backing up %(sources)s"),
    gettext_noop("failed: %(error)s"),
    gettext_noop("refused: %(error)s"),
    gettext_noop("after the restore: %(error)s"),
    gettext_noop("safety backup #%(id)s of %(sources)s"),
    gettext_noop("restoring %(artifact)s from %(path)s"),
    gettext_noop("catalog re-indexed from storage: %(count)s run(s)"),
    gettext_noop("restoring into the new database %(new)s; %(live)s stays as it is until the swap"),
    gettext_noop("restored SQLite database %(target)s"),
    gettext_noop("restored docker volume %(volume)s"),
    gettext_noop("stopped container %(container)s for volume %(volume)s"),
    gettext_noop("started container %(container)s again"),
    gettext_noop("%(source)s: %(raw)s bytes read, %(stored)s stored"),
    gettext_noop("%(source)s: started"),
]
STAMP = re.compile(r"^(?P<stamp>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d )(?P<text>.*)$")
PLACEHOLDER = re.compile(r"%\((\w+)\)s")


@cache
def _patterns() -> list[tuple[str, re.Pattern[str]]]:
    patterns = []
    for msgid in LINES:
        parts = PLACEHOLDER.split(msgid)  # literal, name, literal, name, …, literal
        regex = "".join(re.escape(part) if index % 2 == 0 else f"(?P<{part}>.+?)" for index, part in enumerate(parts))
        patterns.append((msgid, re.compile(f"^{regex}$", re.DOTALL)))
    return patterns


def translated_line(text: str) -> str:
    for msgid, pattern in _patterns():
        match = pattern.match(text)
        if match:
            try:
                return gettext(msgid) % match.groupdict()
            except (KeyError, ValueError, TypeError):  # a translation whose placeholders do not match
                return text
    return text


def translated_log(log: str) -> str:
    """The log with each line the portal wrote in the active language; the timestamps and other lines unchanged."""
    lines = []
    for line in (log or "").split("\n"):
        stamped = STAMP.match(line)
        if stamped:
            lines.append(stamped["stamp"] + translated_line(stamped["text"]))
        else:
            lines.append(line)
    return "\n".join(lines)
