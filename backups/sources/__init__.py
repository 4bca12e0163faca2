"""The registry of backup sources (one `opsportal.lib.registry.Registry`, keyed by kind), filled by discovery.

Every module in this package registers its Source class with `@register`; another app adds a source the same way
from a `backup_sources.py` module, which is imported at start-up (`autodiscover`).
"""

from __future__ import annotations

import importlib
import pkgutil

from backups.sources.base import RestoreRefused, RestoreTarget, Source, SourceError, SourceStream
from opsportal.lib.registry import Registry
from opsportal.lib.registry import autodiscover as discover_modules

__all__ = ["SOURCES", "RestoreRefused", "RestoreTarget", "Source", "SourceError", "SourceStream", "database_kinds",
           "register", "registry"]

SOURCES: Registry[type[Source]] = Registry("backup source", name_of=lambda source_class: source_class.kind)

register = SOURCES.register


def registry() -> dict[str, type[Source]]:
    return SOURCES.as_dict()


def autodiscover() -> None:
    for module in pkgutil.iter_modules(__path__):
        if module.name != "base":
            importlib.import_module(f"{__name__}.{module.name}")
    discover_modules("backup_sources")


def database_kinds() -> set[str]:
    """Kinds whose artifacts are databases (dumped by DatabaseSource or a subclass): restorable --into, drilled."""
    from backups.sources.database import DatabaseSource

    return {kind for kind, source_class in SOURCES.items() if issubclass(source_class, DatabaseSource)}


def parse_selector(text: str) -> tuple[str, str | None]:
    kind, _, name = text.partition(":")
    return kind, name or None


def selected(only: list[str] | None) -> list[Source]:
    """Configured sources, limited to the KIND or KIND:NAME selectors in `only` when given."""
    sources = [source for source_class in SOURCES for source in source_class.configured()]
    if not only:
        return sources
    selectors = [parse_selector(text) for text in only]
    return [s for s in sources if any(s.kind == k and (n is None or s.name == n) for k, n in selectors)]
