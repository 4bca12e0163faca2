"""Admin log entries ("Recent actions") name runs and restores without their status.

Django stores `str(obj)` in LogEntry.object_repr when the entry is written; for a run that is "#1 queued (…)", which
"Recent actions" would show for ever after the run succeeded. The entry keeps `obj.log_repr()` ("#1") instead; the
list shows the model's name under it, in the reader's language.
"""

from __future__ import annotations

from django.contrib.admin.models import LogEntry


def _stable(entry, obj):
    if entry is not None and getattr(entry, "pk", None) and hasattr(obj, "log_repr"):
        entry.object_repr = obj.log_repr()
        LogEntry.objects.filter(pk=entry.pk).update(object_repr=entry.object_repr)
    return entry


class StableLogReprMixin:
    def log_addition(self, request, obj, message):
        return _stable(super().log_addition(request, obj, message), obj)

    def log_change(self, request, obj, message):
        return _stable(super().log_change(request, obj, message), obj)
