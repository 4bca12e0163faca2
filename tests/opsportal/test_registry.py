"""One registry for every extension point (opsportal/lib/registry.py): a name is taken once, tests can register for
a while, and an app's entries are listed only while the app is installed."""

from __future__ import annotations

import pytest

from backups.sources import SOURCES
from monitoring.registry import CHECKS, check_classes
from opsportal.lib.registry import AlreadyRegistered, Registry, autodiscover, module_urlpatterns
from performance.registry import TARGETS, TargetSpec, discover_targets


def test_items_are_registered_by_decorator_or_call_and_read_back_by_name():
    registry: Registry = Registry("widget")

    @registry.register
    def first() -> None: ...

    registry.register(len, name="length")

    assert registry.get("length") is len
    assert registry.get(f"{__name__}.{first.__qualname__}") is first
    assert registry.values() == [first, len]  # in registration order
    assert "length" in registry and len(registry) == 2
    with pytest.raises(KeyError, match="no widget named 'missing'"):
        registry.get("missing")


def test_a_second_thing_under_a_taken_name_is_refused_and_the_same_one_again_is_not():
    registry: Registry = Registry("health check", name_of=lambda item: item.name)

    class Disk:
        name = "disk"

    class OtherDisk:
        name = "disk"

    registry.register(Disk)
    registry.register(Disk)  # a module imported twice registers the same definition again
    with pytest.raises(AlreadyRegistered, match="health check 'disk' is registered twice"):
        registry.register(OtherDisk)
    assert registry.values() == [Disk]


def test_two_modules_cannot_declare_one_target_name():
    discover_targets()
    with pytest.raises(AlreadyRegistered, match="'portal: admin index'"):
        TARGETS.register(TargetSpec(name="portal: admin index", url="/elsewhere/"), origin="tests.other")
    assert TARGETS.get("portal: admin index").url_name == "admin:index"


def test_tests_register_for_a_while_or_count_only_their_own():
    registry: Registry = Registry("provider")
    registry.register(len, name="built-in")

    with registry.registered(abs, name="temporary"):
        assert registry.names() == ["built-in", "temporary"]
    assert registry.names() == ["built-in"]

    with registry.isolated():
        registry.register(abs, name="only")
        assert registry.names() == ["only"]
    assert registry.names() == ["built-in"]


def test_an_apps_entries_come_and_go_with_the_app(settings):
    assert "demo-orders" not in check_classes()

    settings.INSTALLED_APPS = [*settings.INSTALLED_APPS, "tests.demo_module"]
    assert check_classes()["demo-orders"].__module__ == "tests.demo_module.health"

    settings.INSTALLED_APPS = [app for app in settings.INSTALLED_APPS if app != "tests.demo_module"]
    assert "demo-orders" not in check_classes()
    assert "demo-orders" not in CHECKS


def test_autodiscover_returns_the_installed_apps_modules_of_that_name():
    modules = {module.__name__ for module in autodiscover("health")}
    assert {"backups.health", "performance.health"} <= modules
    assert {"database", "file", "docker-volume"} <= set(SOURCES.names())


def _mounted() -> dict[str, str]:
    return {str(pattern.pattern): pattern.urlconf_name.__name__ for pattern in module_urlpatterns()}


def test_a_module_from_extra_apps_is_mounted_at_its_label_or_where_its_appconfig_says(settings):
    assert _mounted() == {}  # django.contrib.auth has a urls.py too: an app is mounted only when it asks or is a module

    settings.EXTRA_APPS = ["tests.demo_module"]
    settings.INSTALLED_APPS = [*settings.INSTALLED_APPS, "tests.demo_module"]
    assert _mounted() == {"demo_module/": "tests.demo_module.urls"}

    settings.EXTRA_APPS = ["tests.demo_module.apps.DemoModuleAtShippingConfig"]
    settings.INSTALLED_APPS = [*settings.INSTALLED_APPS[:-1], "tests.demo_module.apps.DemoModuleAtShippingConfig"]
    assert _mounted() == {"shipping/": "tests.demo_module.urls"}
