from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from backups.physical.config import PhysicalNotConfigured, stanza
from backups.physical.sql import restore_point_create


class Command(BaseCommand):
    help = _("Create a named restore point (pg_create_restore_point) and wait until its WAL is archived, e.g. "
             "before a deploy: `restore --to-name NAME` recovers to exactly that moment.")
    # Only the backup settings' checks (backups/system_checks.py), not the URLconf/admin/model checks: a quick start.
    requires_system_checks = ["backups"]

    def add_arguments(self, parser) -> None:
        parser.add_argument("name", help=_("Letters, digits and . _ : - (at most 63)."))
        parser.add_argument("--timeout", type=float, default=60.0, help=_("Seconds to wait for the archive."))

    def handle(self, *args, name: str, timeout: float, **options) -> None:
        try:
            stanza()
            lsn = restore_point_create(name, timeout=timeout)
        except (PhysicalNotConfigured, ValueError, TimeoutError) as exc:
            raise CommandError(str(exc)) from None
        except Exception as exc:
            raise CommandError(_("The restore point could not be created: %(error)s") % {"error": exc}) from None
        self.stdout.write(_("Restore point %(name)s created at %(lsn)s and archived.") % {"name": name, "lsn": lsn})
