"""Admin log entries ("Recent actions", an object's history) name runs and restores without their status, and say
what happened in the reader's language.

Django stores `str(obj)` in LogEntry.object_repr when the entry is written; for a run that is "#1 queued (…)", which
"Recent actions" would show for ever after the run succeeded. The entry keeps `obj.log_repr()` ("#1") instead; the
list shows the model's name under it, in the reader's language.

Django also stores the change message as text in the language of whoever acted. Our entries take a
`monitoring.messages.Message` (a msgid and its parameters) and store it as JSON (`[{"opsportal": {"message_id": …,
"params": …}}]`); `change_message()` renders it in the reader's language. Rows written before keep their text, which
is translated when it is one of our msgids ("Restore drill requested.") and shown as it is otherwise.
"""

from __future__ import annotations

import json

from django.contrib.admin.models import LogEntry
from django.utils.translation import gettext

from monitoring.messages import Message, render_message

KEY = "opsportal"


def _stable(entry, obj):
    if entry is not None and getattr(entry, "pk", None) and hasattr(obj, "log_repr"):
        entry.object_repr = obj.log_repr()
        LogEntry.objects.filter(pk=entry.pk).update(object_repr=entry.object_repr)
    return entry


def _stored(message):
    if isinstance(message, Message):
        return json.dumps([{KEY: message.data()}])
    return message


def change_message(entry: LogEntry) -> str:
    """What the entry says happened, in the active language."""
    text = entry.change_message or ""
    if text.startswith("["):
        try:
            parts = json.loads(text)
        except ValueError:
            parts = None
        if isinstance(parts, list) and parts and all(isinstance(part, dict) and KEY in part for part in parts):
            return " ".join(render_message(part[KEY].get("message_id", ""), part[KEY].get("params"))
                            for part in parts)
    shown = entry.get_change_message()
    return gettext(shown) if shown and shown == text else shown


class StableLogReprMixin:
    def log_addition(self, request, obj, message):
        return _stable(super().log_addition(request, obj, _stored(message)), obj)

    def log_change(self, request, obj, message):
        return _stable(super().log_change(request, obj, _stored(message)), obj)
