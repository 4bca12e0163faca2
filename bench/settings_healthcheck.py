"""Bench-only settings: the portal plus django-health-check with checks equivalent to ours (bench/health.py)."""

from opsportal.settings import *  # noqa: F403

INSTALLED_APPS = [*INSTALLED_APPS, "health_check"]  # noqa: F405
ROOT_URLCONF = "bench.urls_healthcheck"
