"""Admin pages show numbers for people: a mixin that swaps raw float fields for rounded text with a unit.

An admin (or inline) declares `human_numbers = {"duration_ms": ("ms", gettext_lazy("duration"))}` and keeps naming
the raw field in list_display, fields, fieldsets and readonly_fields. Everywhere a person reads the field (list
column, change or view page) it is replaced by a generated `<field>_human` column that sorts by the raw field.
Editable form inputs are left alone: a field an admin may edit is not in readonly_fields and is never swapped.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from django.contrib import admin
from django.utils.functional import Promise

from opsportal.lib.humanize import EMPTY, FORMATTERS, status_badge

HUMAN_SUFFIX = "_human"


def human_column(field: str, unit: str, label: str | Promise) -> Callable[[Any, Any], str]:
    formatter = FORMATTERS[unit]

    @admin.display(description=label, ordering=field)
    def column(self, obj) -> str:
        return formatter(getattr(obj, field))

    column.__name__ = field + HUMAN_SUFFIX
    return column


def status_column(field: str, label: str | Promise, *, kind: str = "status") -> Callable[[Any, Any], str]:
    """A coloured status badge column (the backups lists' look) for a choices field."""

    @admin.display(description=label, ordering=field)
    def column(self, obj) -> str:
        value = getattr(obj, field)
        return status_badge(value, getattr(obj, f"get_{field}_display")(), kind=kind) if value else EMPTY

    return column


class HumanNumbersMixin:
    human_numbers: dict[str, tuple[str, str | Promise]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for field, (unit, label) in cls.human_numbers.items():
            setattr(cls, field + HUMAN_SUFFIX, human_column(field, unit, label))

    def _humanize(self, names: Sequence[Any], readonly: Sequence[Any]) -> list[Any]:
        swapped: list[Any] = []
        for name in names:
            if isinstance(name, tuple | list):  # a row of fields on one line
                name = tuple(self._humanize(name, readonly))
            elif name in self.human_numbers and name in readonly:
                name = name + HUMAN_SUFFIX
            if name not in swapped:
                swapped.append(name)
        return swapped

    def _raw_readonly(self, request, obj=None) -> list[Any]:
        readonly = list(super().get_readonly_fields(request, obj))  # type: ignore[misc]
        if not self.has_change_permission(request, obj):  # type: ignore[attr-defined]
            # A view-only page shows every field as text, so each raw float counts as read-only there.
            readonly += list(self.human_numbers)
        return readonly

    def get_readonly_fields(self, request, obj=None):
        readonly = self._raw_readonly(request, obj)
        return self._humanize(readonly, readonly)

    def get_fieldsets(self, request, obj=None):
        readonly = self._raw_readonly(request, obj)
        fieldsets = super().get_fieldsets(request, obj)  # type: ignore[misc]
        return [(name, {**options, "fields": self._humanize(options["fields"], readonly)})
                for name, options in fieldsets]

    def get_list_display(self, request):
        names = super().get_list_display(request)  # type: ignore[misc]
        return self._humanize(names, list(self.human_numbers))
