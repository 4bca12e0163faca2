from django.apps import AppConfig


class DemoModuleConfig(AppConfig):
    """A module of the kind a team adds to the portal (documents, logistics, ...): it brings its own health.py."""

    name = "tests.demo_module"
    label = "demo_module"
