"""`manage.py updatelocale [--check]`: regenerate the translation catalogs and their .mo, or check they are current."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from opsportal.i18n.catalog import (
    LANGUAGES,
    catalog_path,
    catalog_problems,
    catalog_update,
    third_party_catalog_path,
    third_party_label,
)
from opsportal.i18n.pofile import po_entries


class Command(BaseCommand):
    @property
    def help(self) -> str:  # in the reader's language when asked; argparse wants a str, not a lazy string
        return gettext("Extract every translatable string into locale/*/django.po, and those of django-celery-beat "
                       "into our catalog of them, keep existing translations, compile the .mo.")

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--check", action="store_true",
            help=_("Change nothing; fail if a catalog misses a string, has an untranslated or fuzzy entry, or its "
                   ".mo is stale."),
        )

    def handle(self, *args, check: bool = False, **options) -> None:
        if check:
            problems = catalog_problems()
            if problems:
                raise CommandError("\n".join(problems))
            self.stdout.write(gettext("The catalogs are complete and compiled."))
            return
        catalog_update(base=Path(settings.BASE_DIR))
        for language in LANGUAGES:
            for name, path in ((language, catalog_path(language)),
                               (third_party_label(language), third_party_catalog_path(language))):
                entries = po_entries(path)
                todo = [entry for entry in entries if not entry.translated or "fuzzy" in entry.flags]
                self.stdout.write(
                    gettext("%(language)s: %(count)s strings, %(todo)s to translate (empty or fuzzy).")
                    % {"language": name, "count": len(entries), "todo": len(todo)}
                )
