"""Pages in Japanese: a logged-in admin whose browser asks for ja, and a check that no English string of ours shows.

"Ours" means every msgid of locale/ja/LC_MESSAGES/django.po: if its English text is what a page shows, either a
string escaped gettext or the catalog lacks it. Django's own strings are not checked (Django translates them).
The same check runs over the msgids of django-celery-beat (`celery_beat_entries`: every string its installed version
marks, as extracted from its source), which we translate in opsportal/i18n/third_party.
"""

from __future__ import annotations

import functools
import re
import tempfile
from collections.abc import Iterable
from datetime import timedelta
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import timezone, translation

from opsportal.i18n.catalog import third_party_extract
from opsportal.i18n.pofile import Entry, po_entries

CATALOG = Path(settings.BASE_DIR) / "locale" / "ja" / "LC_MESSAGES" / "django.po"
# Stored data, not text of ours: default rule names are saved in English (and marked with gettext_noop only so
# a rule still named as created is shown translated where the portal can, e.g. in notifications).
DATA_SOURCES = ("alerting/defaults.py",)
PLACEHOLDER = re.compile(r"%(?:\([a-z_]+\))?[-#0 +]*\d*(?:\.\d+)?[sdifgr]|\{[a-z_0-9]*\}")


class _VisibleText(HTMLParser):
    """Text a user reads: text nodes outside script/style/pre (logs and manifests stay as written), plus the
    attributes the browser shows (title, placeholder, button values)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.nodes: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style", "pre", "textarea"):
            self._hidden += 1
        attributes = dict(attrs)
        for name in ("title", "placeholder", "aria-label"):
            if attributes.get(name):
                self.nodes.append(attributes[name])
        if tag == "input" and attributes.get("type") in ("submit", "button") and attributes.get("value"):
            self.nodes.append(attributes["value"])

    def handle_endtag(self, tag):
        if tag in ("script", "style", "pre", "textarea") and self._hidden:
            self._hidden -= 1

    def handle_data(self, data):
        text = " ".join(data.split())
        if text and not self._hidden:
            self.nodes.append(text)


def visible_text(html: str) -> list[str]:
    parser = _VisibleText()
    parser.feed(html)
    return parser.nodes


def our_entries() -> list[Entry]:
    return [
        entry for entry in po_entries(CATALOG)
        if not all(reference.startswith(DATA_SOURCES) for reference in entry.references)
        and any(entry.msgid != text for text in entry.msgstr.values())
    ]


@functools.cache
def celery_beat_entries() -> tuple[Entry, ...]:
    """Every msgid of the installed django-celery-beat, from its source (not from our catalog of it, so a string the
    catalog lacks is checked too). Extracted once per test run."""
    with tempfile.TemporaryDirectory(prefix="opsportal-i18n-test-") as scratch:
        return tuple(po_entries(third_party_extract("ja", scratch=Path(scratch))))


def _english_pattern(msgid: str) -> re.Pattern | None:
    """A pattern for the English text with its placeholders filled in, or None when too little of it is words to
    tell it apart from data (e.g. "%(n)d s")."""
    literal = PLACEHOLDER.sub(" ", msgid)
    if len(re.findall(r"[A-Za-z]{2,}", literal)) < 2:
        return None
    parts = [re.escape(part) for part in PLACEHOLDER.split(msgid.replace("%%", "%"))]
    return re.compile(r"(?i)(?<![A-Za-z])" + r".{1,120}?".join(parts) + r"(?![A-Za-z])")


def untranslated_strings(
    html: str, *, data: frozenset[str] = frozenset(), entries: Iterable[Entry] | None = None
) -> list[str]:
    """Our msgids a page shows in English: a whole text node equal to one (e.g. a label "Status:"), or a longer
    one (two words or more, placeholders filled) found inside a text node. `data`: values the test stored that
    happen to equal a msgid (a database alias named "default"). `entries`: other msgids to look for instead of ours
    (e.g. celery_beat_entries())."""
    return untranslated_in([node for node in visible_text(html) if node not in data], entries=entries)


def untranslated_in(nodes: list[str], *, entries: Iterable[Entry] | None = None) -> list[str]:
    """The same check over pieces of plain text, e.g. the lines of a notification."""
    whole = {node.strip(" :…*").casefold() for node in nodes}
    found = []
    for entry in our_entries() if entries is None else entries:
        for msgid in filter(None, (entry.msgid, entry.msgid_plural)):
            if not PLACEHOLDER.search(msgid) and msgid.strip(" :…").casefold() in whole:
                found.append(msgid)
                continue
            pattern = _english_pattern(msgid)
            if pattern and any(pattern.search(node) for node in nodes):
                found.append(msgid)
    return sorted(set(found))


@pytest.fixture(autouse=True)
def _language_reset_after_each_test():
    """A request in Japanese leaves ja active in this thread (LocaleMiddleware does not undo it); later tests,
    here or in other apps, must start from LANGUAGE_CODE."""
    yield
    translation.deactivate()


@pytest.fixture
def ja_client(client, django_user_model):
    """A superuser whose browser sends Accept-Language: ja (LocaleMiddleware picks the language from it)."""
    client.force_login(django_user_model.objects.create_superuser("root", "root@example.com", "pw"))
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "ja,en;q=0.5"
    return client


@pytest.fixture
def firing_alert(db):
    """The default "Disk almost full" rule firing on db1, through the real evaluation."""
    from alerting.models import Alert
    from alerting.observations import Observation
    from alerting.services import alerts_evaluate

    start = timezone.now() - timedelta(minutes=10)
    for at in (start, start + timedelta(minutes=6)):
        alerts_evaluate(
            observations=[Observation(kind="metric", name="disk_used_percent", labels={"host": "db1", "path": "/var"},
                                      value=97.5, status=None, at=at)],
            now=at,
        )
    return Alert.objects.get(state="firing")
