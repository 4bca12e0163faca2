from django.apps import AppConfig


class DemoModuleConfig(AppConfig):
    """A module of the kind a team adds to the portal (documents, logistics, ...): it brings its own health.py,
    perf.py, alerting.py and urls.py (mounted at /demo_module/), and nothing in the core names it."""

    name = "tests.demo_module"
    label = "demo_module"
    default = True


class DemoModuleAtShippingConfig(DemoModuleConfig):
    """The same module, its urls.py mounted where its AppConfig says
    (EXTRA_APPS=tests.demo_module.apps.DemoModuleAtShippingConfig)."""

    default = False
    url_prefix = "shipping/"
