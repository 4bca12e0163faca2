"""The Japanese catalog is complete: makemessages finds nothing new, nothing is untranslated or fuzzy, placeholders
survive translation, and the committed .mo is the compiled .po (so `make run` needs no gettext)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.utils import translation

from opsportal.i18n.catalog import IGNORED, catalog_problems


def test_the_committed_catalog_is_complete_and_compiled():
    problems = catalog_problems()
    assert problems == [], "\n".join(["run `make messages`, translate, commit:", *problems])


def test_updatelocale_check_passes_on_the_committed_catalog(capsys):
    with translation.override("en"):
        call_command("updatelocale", check=True)
    assert "The catalogs are complete and compiled." in capsys.readouterr().out


def test_the_check_finds_a_new_string_an_empty_or_fuzzy_translation_a_lost_placeholder_and_a_stale_mo(
    settings, tmp_path
):
    copy = tmp_path / "portal"
    shutil.copytree(settings.BASE_DIR, copy, symlinks=True,
                    ignore=shutil.ignore_patterns(".*", "__pycache__", *[name for name in IGNORED if name != "locale"]))
    (copy / "backups" / "i18n_probe.py").write_text(
        'from django.utils.translation import gettext as _\n\nPROBE = _("A string nobody translated")\n'
    )
    po = copy / "locale" / "ja" / "LC_MESSAGES" / "django.po"
    text = po.read_text(encoding="utf-8")
    text = text.replace('msgid "Run backup now"\nmsgstr "今すぐバックアップ"', 'msgid "Run backup now"\nmsgstr ""')
    verified = 'msgid "Backup #%(id)s verified."'
    text = text.replace(f"#, python-format\n{verified}", f"#, fuzzy, python-format\n{verified}")
    text = text.replace('"バックアップ #%(id)s の検証に失敗しました。"', '"バックアップの検証に失敗しました。"')
    po.write_text(text, encoding="utf-8")
    settings.BASE_DIR = copy

    problems = "\n".join(catalog_problems())

    assert "not in the catalog yet: 'A string nobody translated'" in problems
    assert "untranslated: 'Run backup now'" in problems
    assert "fuzzy: 'Backup #%(id)s verified.'" in problems
    assert "placeholders ['%(id)s'] became [] in 'Backup #%(id)s failed verification.'" in problems
    assert "msgfmt refuses the catalog" in problems  # the lost placeholder, as msgfmt sees it


def test_a_mo_compiled_from_an_older_po_is_stale(settings, tmp_path):
    copy = tmp_path / "portal"
    shutil.copytree(settings.BASE_DIR, copy, symlinks=True,
                    ignore=shutil.ignore_patterns(".*", "__pycache__", *[name for name in IGNORED if name != "locale"]))
    po = copy / "locale" / "ja" / "LC_MESSAGES" / "django.po"
    po.write_text(po.read_text(encoding="utf-8").replace('msgstr "今すぐバックアップ"', 'msgstr "すぐにバックアップ"'),
                  encoding="utf-8")
    settings.BASE_DIR = copy
    assert catalog_problems() == [f"{copy}/locale/ja/LC_MESSAGES/django.mo is stale: run `make messages` (or msgfmt) "
                                  "and commit it"]


@pytest.mark.parametrize(("msgid", "japanese"), [
    ("Run backup now", "今すぐバックアップ"),
    ("restore runs", "リストア実行"),
    ("health snapshots", "ヘルススナップショット"),
    ("notification channels", "通知チャネル"),
    ("silences", "サイレンス"),
    ("Celery workers", "Celery ワーカー"),
    ("Performance against budget", "性能と予算"),
])
def test_the_compiled_catalog_is_what_django_loads(msgid, japanese):
    assert Path(settings.LOCALE_PATHS[0]) == Path(settings.BASE_DIR) / "locale"
    with translation.override("ja"):
        assert translation.gettext(msgid) == japanese
