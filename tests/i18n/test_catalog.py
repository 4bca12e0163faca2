"""The Japanese catalog is complete: makemessages finds nothing new, nothing is untranslated or fuzzy, placeholders
survive translation, and the committed .mo is the compiled .po (so `make run` needs no gettext). The same holds for
our catalog of django-celery-beat's strings against the installed version (so an upgrade that adds a string fails
here until it is translated)."""

from __future__ import annotations

import gettext
import importlib.metadata
import shutil
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.utils import translation

from opsportal.i18n.catalog import (
    IGNORED,
    catalog_problems,
    catalog_update,
    third_party_catalog_path,
    third_party_label,
)
from opsportal.i18n.pofile import po_entries


def test_the_committed_catalog_is_complete_and_compiled():
    problems = catalog_problems()
    assert problems == [], "\n".join(["run `make messages`, translate, commit:", *problems])


def test_updatelocale_check_passes_on_the_committed_catalog(capsys):
    with translation.override("en"):
        call_command("updatelocale", check=True)
    assert "The catalogs are complete and compiled." in capsys.readouterr().out


def _portal_copy(base, tmp_path) -> Path:
    copy = tmp_path / "portal"
    shutil.copytree(base, copy, symlinks=True,
                    ignore=shutil.ignore_patterns(".*", "__pycache__", *[name for name in IGNORED if name != "locale"]))
    return copy


def test_the_check_finds_a_new_string_an_empty_or_fuzzy_translation_a_lost_placeholder_and_a_stale_mo(
    settings, tmp_path
):
    copy = _portal_copy(settings.BASE_DIR, tmp_path)
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
    copy = _portal_copy(settings.BASE_DIR, tmp_path)
    po = copy / "locale" / "ja" / "LC_MESSAGES" / "django.po"
    po.write_text(po.read_text(encoding="utf-8").replace('msgstr "今すぐバックアップ"', 'msgstr "すぐにバックアップ"'),
                  encoding="utf-8")
    settings.BASE_DIR = copy
    assert catalog_problems() == [f"{copy}/locale/ja/LC_MESSAGES/django.mo is stale: run `make messages` (or msgfmt) "
                                  "and commit it"]


def test_the_check_finds_a_django_celery_beat_string_the_catalog_lacks_an_empty_fuzzy_or_broken_entry(
    settings, tmp_path
):
    copy = _portal_copy(settings.BASE_DIR, tmp_path)
    po = third_party_catalog_path("ja", base=copy)
    text = po.read_text(encoding="utf-8")
    # As after an upgrade of django-celery-beat that added "Days": the installed version has it, the catalog not.
    text = text.replace('#: django_celery_beat/models.py:31\nmsgid "Days"\nmsgstr "日"\n\n', "")
    text = text.replace('msgid "Hours"\nmsgstr "時間"', 'msgid "Hours"\nmsgstr ""')
    text = text.replace('#: django_celery_beat/models.py:33\nmsgid "Minutes"', '#, fuzzy\nmsgid "Minutes"')
    text = text.replace('msgstr "{} {}ごと"', 'msgstr "{}ごと"')
    po.write_text(text, encoding="utf-8")
    settings.BASE_DIR = copy

    problems = catalog_problems()

    label = third_party_label("ja")
    assert label == f"ja (django-celery-beat {importlib.metadata.version('django-celery-beat')})"
    assert f"{label}: not in the catalog yet: 'Days'" in problems
    assert f"{label}: untranslated: 'Hours'" in problems
    assert f"{label}: fuzzy: 'Minutes'" in problems
    assert f"{label}: placeholders ['{{}}', '{{}}'] became ['{{}}'] in 'every {{}} {{}}'" in problems
    assert f"{third_party_catalog_path('ja', base=copy, suffix='mo')} is stale: run `make messages` (or msgfmt) and " \
           "commit it" in problems
    assert [problem for problem in problems if not problem.startswith(label) and "third_party" not in problem] == []


def test_a_stale_third_party_mo_is_the_only_problem_found(settings, tmp_path):
    copy = _portal_copy(settings.BASE_DIR, tmp_path)
    po = third_party_catalog_path("ja", base=copy)
    po.write_text(po.read_text(encoding="utf-8").replace('msgstr "日の出"', 'msgstr "日出"'), encoding="utf-8")
    settings.BASE_DIR = copy
    assert catalog_problems() == [f"{third_party_catalog_path('ja', base=copy, suffix='mo')} is stale: run "
                                  "`make messages` (or msgfmt) and commit it"]


def test_make_messages_adds_a_new_django_celery_beat_string_untranslated_and_keeps_the_rest(settings, tmp_path):
    copy = _portal_copy(settings.BASE_DIR, tmp_path)
    po = third_party_catalog_path("ja", base=copy)
    before = {entry.msgid: entry.msgstr for entry in po_entries(po)}
    po.write_text(po.read_text(encoding="utf-8").replace('msgid "Days"\nmsgstr "日"\n\n', ""), encoding="utf-8")

    catalog_update(base=copy)

    after = {entry.msgid: entry.msgstr for entry in po_entries(po)}
    assert after.keys() == before.keys()
    assert after["Days"] == {0: ""}
    assert {msgid: text for msgid, text in after.items() if msgid != "Days"} == {
        msgid: text for msgid, text in before.items() if msgid != "Days"}
    # Compiled from the new .po: "Days" is not in it until translated, the rest is.
    with third_party_catalog_path("ja", base=copy, suffix="mo").open("rb") as file:
        compiled = gettext.GNUTranslations(file)
    assert "Days" not in compiled._catalog
    assert compiled.gettext("Sunrise") == "日の出"


def test_make_messages_starts_a_missing_third_party_catalog_with_japanese_plural_forms(settings, tmp_path):
    copy = _portal_copy(settings.BASE_DIR, tmp_path)
    third_party_catalog_path("ja", base=copy).unlink()
    third_party_catalog_path("ja", base=copy, suffix="mo").unlink()
    settings.BASE_DIR = copy
    assert f"{third_party_catalog_path('ja', base=copy)} does not exist: run `make messages`" in catalog_problems()

    catalog_update(base=copy)

    entries = po_entries(third_party_catalog_path("ja", base=copy))
    assert {entry.msgid for entry in entries} == {entry.msgid for entry in po_entries(third_party_catalog_path("ja"))}
    assert all(not entry.translated for entry in entries)
    with third_party_catalog_path("ja", base=copy, suffix="mo").open("rb") as file:
        assert gettext.GNUTranslations(file).info()["plural-forms"] == "nplurals=1; plural=0;"


def test_makemessages_leaves_the_third_party_catalog_out_of_ours():
    """Our catalog holds only our strings: none comes from opsportal/i18n/third_party (its locale/ is not taken for
    a catalog of the code around it), and no django-celery-beat msgid is extracted into it."""
    ours = po_entries(Path(settings.BASE_DIR) / "locale" / "ja" / "LC_MESSAGES" / "django.po")
    assert [entry.msgid for entry in ours
            if any(reference.startswith(("opsportal/i18n/third_party", "django_celery_beat"))
                   for reference in entry.references)] == []


@pytest.mark.parametrize(("msgid", "japanese"), [
    ("Run backup now", "今すぐバックアップ"),
    ("restore runs", "リストア実行"),
    ("health snapshots", "ヘルススナップショット"),
    ("notification channels", "通知チャネル"),
    ("silences", "サイレンス"),
    ("Celery workers", "Celery ワーカー"),
    ("Performance against budget", "性能と予算"),
    # django-celery-beat's, from our catalog of them (opsportal/i18n/third_party)
    ("Periodic Tasks", "定期タスク"),
    ("Run selected tasks", "選択したタスクを実行"),
    ("Interval Schedule", "間隔スケジュール"),
])
def test_the_compiled_catalog_is_what_django_loads(msgid, japanese):
    assert Path(settings.LOCALE_PATHS[0]) == Path(settings.BASE_DIR) / "locale"
    with translation.override("ja"):
        assert translation.gettext(msgid) == japanese
