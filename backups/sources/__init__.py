"""The registry of backup sources, filled by discovery.

Every module in this package registers its Source class with `@register`; another app adds a source the same way
from a `backup_sources.py` module, which is imported at start-up (`autodiscover`).
"""

from __future__ import annotations

import importlib
import pkgutil

from django.utils.module_loading import autodiscover_modules

from backups.sources.base import RestoreRefused, RestoreTarget, Source, SourceError, SourceStream

__all__ = ["RestoreRefused", "RestoreTarget", "Source", "SourceError", "SourceStream", "register", "registry"]

_KINDS: dict[str, type[Source]] = {}


def register(source_class: type[Source]) -> type[Source]:
    _KINDS[source_class.kind] = source_class
    return source_class


def registry() -> dict[str, type[Source]]:
    return dict(_KINDS)


def autodiscover() -> None:
    for module in pkgutil.iter_modules(__path__):
        if module.name != "base":
            importlib.import_module(f"{__name__}.{module.name}")
    autodiscover_modules("backup_sources")


def parse_selector(text: str) -> tuple[str, str | None]:
    kind, _, name = text.partition(":")
    return kind, name or None


def selected(only: list[str] | None) -> list[Source]:
    """Configured sources, limited to the KIND or KIND:NAME selectors in `only` when given."""
    sources = [source for source_class in _KINDS.values() for source in source_class.configured()]
    if not only:
        return sources
    selectors = [parse_selector(text) for text in only]
    return [s for s in sources if any(s.kind == k and (n is None or s.name == n) for k, n in selectors)]
