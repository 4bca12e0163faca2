"""System checks: configuration problems `manage.py check` can report before a probe runs into them."""

from __future__ import annotations

import os

from django.conf import settings
from django.core.checks import Warning, register


@register()
def chromium_is_installed(app_configs, **kwargs) -> list[Warning]:
    path = settings.PERF_CHROMIUM_PATH
    if os.access(path, os.X_OK):
        return []
    return [
        Warning(
            f"PERF_CHROMIUM_PATH is {path!r}, which is not an executable: page-load probes will record "
            "'browser unavailable'.",
            hint="Install Debian's chromium (apt-get install chromium) or point PERF_CHROMIUM_PATH at a Chromium.",
            id="performance.W001",
        )
    ]
