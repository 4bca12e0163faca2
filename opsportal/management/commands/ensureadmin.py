"""Create an admin user if there is none: ADMIN_USERNAME / ADMIN_PASSWORD, or a generated password printed once."""

from __future__ import annotations

import os
import secrets

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.utils.translation import gettext as _


class Command(BaseCommand):
    help = _("Create a superuser if the portal has none (ADMIN_USERNAME, ADMIN_PASSWORD, ADMIN_EMAIL).")

    def handle(self, *args, **options) -> None:
        user_model = get_user_model()
        if user_model.objects.filter(is_superuser=True).exists():
            self.stdout.write(_("An admin user exists already; nothing to do."))
            return
        username = os.environ.get("ADMIN_USERNAME") or "admin"
        password = os.environ.get("ADMIN_PASSWORD") or ""
        generated = not password
        if generated:
            password = secrets.token_urlsafe(15)
        user_model.objects.create_superuser(
            username=username, email=os.environ.get("ADMIN_EMAIL", ""), password=password
        )
        self.stdout.write(self.style.SUCCESS(_("Created admin user %(username)s.") % {"username": username}))
        if generated:
            self.stdout.write(_("Its password, shown only this once: %(password)s") % {"password": password})
