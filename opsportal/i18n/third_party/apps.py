from django.apps import AppConfig


class ThirdPartyTranslationsConfig(AppConfig):
    """No models, no admin: only the locale/ directory next to this file (see the package docstring)."""

    name = "opsportal.i18n.third_party"
    label = "opsportal_third_party_i18n"
