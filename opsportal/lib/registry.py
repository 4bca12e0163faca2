"""One registry and one discovery rule for every extension point of the portal.

Backup sources, health checks, metric providers, metric collectors, performance targets and alert observation
providers are each a `Registry`; a module contributes to them from its own files, which `autodiscover` imports for
every installed app (`health.py`, `perf.py`, `alerting.py`, `backup_sources.py`). Module URLs are found by the same
rule (`module_urlpatterns`).

An entry registered from an installed app's module belongs to that app: when the app leaves INSTALLED_APPS (a test's
settings override), its entries stop being listed, and come back with it. Entries registered from elsewhere (a test
function) are always listed until unregistered.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import ModuleType
from typing import Any, Generic, TypeVar, overload

from django.apps import apps
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import autodiscover_modules, module_has_submodule

T = TypeVar("T")


class AlreadyRegistered(ImproperlyConfigured):
    """Two different things were registered under one name (two checks called "disk", two targets with one name)."""


@dataclass(frozen=True)
class Entry(Generic[T]):
    name: str
    item: T
    origin: str  # the module that registered it
    app_bound: bool  # registered from an installed app's module: listed only while that app is installed


def qualified_name(item: Any) -> str:
    """`module.QualName` of a function or class: the default name of entries that have none of their own."""
    qualname = getattr(item, "__qualname__", None)
    return f"{item.__module__}.{qualname}" if qualname else repr(item)


class Registry(Generic[T]):
    """Named items in registration order. `name_of` gives an item's name when `register` is not told one."""

    def __init__(self, what: str, *, name_of: Callable[[T], str] = qualified_name) -> None:
        self.what = what
        self.name_of = name_of
        self._entries: dict[str, Entry[T]] = {}
        self._lock = threading.RLock()

    @overload
    def register(self, item: T, /, *, name: str | None = ..., origin: str | None = ...) -> T: ...

    @overload
    def register(self, item: None = ..., /, *, name: str | None = ...,
                 origin: str | None = ...) -> Callable[[T], T]: ...

    def register(self, item=None, /, *, name=None, origin=None):
        """Register `item`; usable as `@registry.register` or `@registry.register(name="...")`.

        Registering the same definition again (the same object, an equal value, or a class or function of the same
        module and qualified name, as after a module reload) replaces the entry; anything else under a taken name
        raises AlreadyRegistered.
        """
        if item is None:
            return lambda actual: self.register(actual, name=name, origin=origin)
        key = name if name is not None else self.name_of(item)
        if not key:
            raise ValueError(f"{self.what} {item!r} needs a name")
        module = origin or getattr(item, "__module__", None) or ""
        entry = Entry(name=key, item=item, origin=module, app_bound=_app_of(module) is not None)
        with self._lock:
            existing = self._entries.get(key)
            if existing is not None and not _same_definition(existing.item, item):
                raise AlreadyRegistered(
                    f"{self.what} {key!r} is registered twice: by {existing.origin or '?'} and by {module or '?'}"
                )
            self._entries[key] = entry
        return item

    def unregister(self, name_or_item: str | T) -> None:
        """Remove an entry, by name or by the registered item; unknown ones are ignored."""
        with self._lock:
            if isinstance(name_or_item, str) and name_or_item in self._entries:
                del self._entries[name_or_item]
                return
            for key, entry in list(self._entries.items()):
                if entry.item is name_or_item:
                    del self._entries[key]

    @contextmanager
    def registered(self, item: T, *, name: str | None = None) -> Iterator[T]:
        """Register `item` for the duration of a `with` block (tests)."""
        self.register(item, name=name)
        try:
            yield item
        finally:
            self.unregister(name if name is not None else item)

    @contextmanager
    def isolated(self) -> Iterator[Registry[T]]:
        """Empty the registry for the duration of a `with` block, then restore it (tests that count entries).

        What an installed app's module registered meanwhile is kept: a module registers once, when it is first
        imported, so dropping its entries would lose them for the rest of the process.
        """
        with self._lock:
            saved = dict(self._entries)
            self._entries.clear()
        try:
            yield self
        finally:
            with self._lock:
                imported = {key: entry for key, entry in self._entries.items() if entry.app_bound}
                self._entries.clear()
                self._entries.update(saved)
                for key, entry in imported.items():
                    self._entries.setdefault(key, entry)

    def entries(self) -> list[Entry[T]]:
        """Entries of installed apps (and unbound ones), in registration order."""
        with self._lock:
            found = list(self._entries.values())
        return [entry for entry in found if not entry.app_bound or _app_of(entry.origin) is not None]

    def items(self) -> list[tuple[str, T]]:
        return [(entry.name, entry.item) for entry in self.entries()]

    def as_dict(self) -> dict[str, T]:
        return dict(self.items())

    def values(self) -> list[T]:
        return [entry.item for entry in self.entries()]

    def names(self) -> list[str]:
        return [entry.name for entry in self.entries()]

    def get(self, name: str) -> T:
        """The item registered as `name` (KeyError if there is none, or its app is not installed)."""
        for entry in self.entries():
            if entry.name == name:
                return entry.item
        raise KeyError(f"no {self.what} named {name!r}")

    def __contains__(self, name: object) -> bool:
        return name in self.names()

    def __iter__(self) -> Iterator[T]:
        return iter(self.values())

    def __len__(self) -> int:
        return len(self.entries())

    def __repr__(self) -> str:
        return f"<Registry of {self.what}: {', '.join(self.names())}>"


def _same_definition(old: Any, new: Any) -> bool:
    if old is new or old == new:
        return True
    names = (getattr(old, "__module__", None), getattr(old, "__qualname__", None))
    return None not in names and names == (getattr(new, "__module__", None), getattr(new, "__qualname__", None))


def _app_of(module: str) -> str | None:
    if not module or not apps.apps_ready:
        return None
    config = apps.get_containing_app_config(module)
    return config.name if config is not None else None


_discovered: dict[str, tuple[str, ...]] = {}
_discovery_lock = threading.RLock()


def autodiscover(module_name: str) -> list[ModuleType]:
    """Import `<app>.<module_name>` of every installed app that has one, and return those modules.

    Django's `autodiscover_modules` does the import (an ImportError inside an existing module propagates). The
    imports run again only when INSTALLED_APPS has changed since the last call for this module name.
    """
    configs = list(apps.get_app_configs())
    installed = tuple(config.name for config in configs)
    with _discovery_lock:
        if _discovered.get(module_name) != installed:
            autodiscover_modules(module_name)
            _discovered[module_name] = installed
    found = (sys.modules.get(f"{config.name}.{module_name}") for config in configs)
    return [module for module in found if module is not None]


def module_urlpatterns() -> list:
    """URL patterns of the modules: `<app>/urls.py` mounted at the app's `url_prefix`.

    A module installed through EXTRA_APPS is mounted at `<app_label>/` unless its AppConfig sets `url_prefix`
    (a path ending in "/", or None to mount nothing); any other app is mounted only if its AppConfig sets one.
    """
    from django.urls import include, path

    extra = set(getattr(settings, "EXTRA_APPS", ()))
    patterns = []
    prefixes: dict[str, str] = {}
    for config in apps.get_app_configs():
        named = {config.name, f"{type(config).__module__}.{type(config).__qualname__}"}
        default = f"{config.label}/" if named & extra else None
        prefix = getattr(config, "url_prefix", default)
        if prefix is None or not module_has_submodule(config.module, "urls"):
            continue
        if prefix in prefixes:
            raise AlreadyRegistered(f"URL prefix {prefix!r} is claimed by {prefixes[prefix]} and by {config.name}")
        prefixes[prefix] = config.name
        patterns.append(path(prefix, include(f"{config.name}.urls")))
    return patterns
