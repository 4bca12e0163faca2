"""django-celery-beat's admin pages in Japanese: it ships no Japanese catalog, so ours
(opsportal/i18n/third_party) translates every string it marks, and opsportal/admin.py the labels it shows unmarked
(the Scheduler and Task Name columns, the crontab description). Each page shows the expected Japanese words and none
of django-celery-beat's msgids or those labels in English; its actions answer in Japanese."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

import pytest
from cron_descriptor import FormatException, MissingFieldException, Options, WrongArgumentException, get_description
from django.contrib import admin
from django.urls import reverse
from django.utils import translation
from django_celery_beat import admin as beat_admin
from django_celery_beat.models import (
    ClockedSchedule,
    CrontabSchedule,
    IntervalSchedule,
    PeriodicTask,
    SolarSchedule,
)

from opsportal.admin import crontab_description, crontab_expression
from opsportal.i18n.catalog import third_party_catalog_path
from opsportal.i18n.pofile import po_entries
from tests.i18n.conftest import CATALOG, celery_beat_entries, untranslated_strings, visible_text

pytestmark = pytest.mark.django_db


@pytest.fixture
def schedules():
    """One schedule of each kind, a task on the interval and one on the crontab (shown inline on its page)."""
    interval = IntervalSchedule.objects.create(every=5, period=IntervalSchedule.MINUTES)
    crontab = CrontabSchedule.objects.create(minute="0", hour="3", day_of_week="*", day_of_month="*",
                                             month_of_year="*", timezone="UTC")
    solar = SolarSchedule.objects.create(event="sunrise", latitude="35.68", longitude="139.76")
    clocked = ClockedSchedule.objects.create(clocked_time=datetime(2026, 12, 24, 9, 0, tzinfo=UTC))
    every_five = PeriodicTask.objects.create(name="probe every five", task="celery.backend_cleanup",
                                             interval=interval)
    nightly = PeriodicTask.objects.create(name="at three", task="celery.backend_cleanup", crontab=crontab,
                                          enabled=False)
    return {"interval": interval, "crontab": crontab, "solar": solar, "clocked": clocked, "task": every_five,
            "nightly": nightly}


def _url(model: str, view: str, *args) -> str:
    return reverse(f"admin:django_celery_beat_{model}_{view}", args=args)


def beat_label_entries():
    """Our msgids for the labels django-celery-beat shows without marking them (opsportal/admin.py, its template)."""
    return [entry for entry in po_entries(CATALOG) if any(
        reference.startswith(("opsportal/admin.py", "templates/admin/django_celery_beat/"))
        for reference in entry.references)]


# What cron-descriptor's ja_JP catalog makes of "0 3 * * *" with 24-hour times, and the crontab's time zone.
AT_THREE_JA = "次において実施 03:00 UTC"


PAGES = [
    # (name, url builder, Japanese the page must show)
    ("index", lambda s: reverse("admin:index"),
     ["定期タスク", "Cron スケジュール", "間隔スケジュール", "太陽イベント", "日時指定スケジュール"]),
    ("periodic tasks", lambda s: _url("periodictask", "changelist"),
     ["定期タスク", "有効", "5 分ごと", "選択したタスクを有効化", "選択したタスクを無効化",
      "選択したタスクの有効・無効を切り替え", "選択したタスクを実行", "最終実行日時", "1 回だけ実行",
      "スケジュール", "タスク名 で絞り込む"]),
    ("add periodic task", lambda s: _url("periodictask", "add"),
     ["タスク (登録済み)", "タスク (直接入力)", "スケジュール", "間隔スケジュール", "引数", "位置引数",
      "キーワード引数", "実行オプション", "有効期限 (日時)", "優先度", "このタスクの短い説明"]),
    ("a periodic task", lambda s: _url("periodictask", "change", s["task"].pk),
     ["定期タスク", "開始日時", "1 回だけ実行", "キューの指定", "ルーティングキー", "AMQP メッセージヘッダー"]),
    ("a periodic task on a crontab", lambda s: _url("periodictask", "change", s["nightly"].pk),
     ["Cron スケジュール", "Cron スケジュールの説明", AT_THREE_JA]),
    ("crontabs", lambda s: _url("crontabschedule", "changelist"), ["Cron スケジュール", "説明", AT_THREE_JA]),
    ("add crontab", lambda s: _url("crontabschedule", "add"),
     ["分", "時", "曜日", "Cron のタイムゾーン", "「*」ですべての曜日"]),
    ("a crontab", lambda s: _url("crontabschedule", "change", s["crontab"].pk),
     ["Cron スケジュール", "このスケジュールを使う定期タスク", "at three", "説明", AT_THREE_JA, "タスク名"]),
    ("intervals", lambda s: _url("intervalschedule", "changelist"), ["間隔スケジュール", "5 分ごと"]),
    ("add interval", lambda s: _url("intervalschedule", "add"),
     ["間隔の数", "間隔の単位", "タスクの実行間隔の単位 (例: 日)", "マイクロ秒"]),
    ("an interval", lambda s: _url("intervalschedule", "change", s["interval"].pk),
     ["間隔スケジュール", "このスケジュールを使う定期タスク", "probe every five", "タスク名"]),
    ("solar events", lambda s: _url("solarschedule", "changelist"), ["太陽イベント"]),
    ("a solar event", lambda s: _url("solarschedule", "change", s["solar"].pk),
     ["太陽イベント", "日の出", "日の入り", "南中", "緯度", "経度", "このスケジュールを使う定期タスク"]),
    ("clocked", lambda s: _url("clockedschedule", "changelist"), ["日時指定スケジュール"]),
    ("add clocked", lambda s: _url("clockedschedule", "add"), ["日時指定スケジュール", "実行日時"]),
]


@pytest.mark.parametrize(("url", "japanese"), [(url, japanese) for _, url, japanese in PAGES],
                         ids=[name for name, _, _ in PAGES])
def test_the_page_is_in_japanese_with_no_english_string_of_django_celery_beat(ja_client, schedules, url, japanese):
    response = ja_client.get(url(schedules))
    assert response.status_code == 200
    html = response.content.decode()
    assert '<html lang="ja"' in html
    text = " ".join(visible_text(html))
    missing = [word for word in japanese if word not in text]
    assert not missing, f"not on the page: {missing}"
    # (Our own msgids are not all looked for: the default periodic tasks' names, stored data, contain some; those of
    # the labels django-celery-beat leaves unmarked are.)
    assert untranslated_strings(html, entries=celery_beat_entries()) == []
    assert untranslated_strings(html, entries=beat_label_entries()) == []
    assert not re.search(r"\bAt \d\d:\d\d", text)  # no crontab described in English


def test_the_checker_finds_django_celery_beat_strings_in_english(ja_client, schedules):
    """The same pages in English show django-celery-beat's msgids: the check above can fail."""
    ja_client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    html = ja_client.get(_url("periodictask", "add")).content.decode()
    assert {"Task (registered)", "Execution Options", "Positional Arguments"} <= set(
        untranslated_strings(html, entries=celery_beat_entries())
    )


def test_in_english_the_labels_and_the_crontab_description_stay_english(ja_client, schedules):
    """The same labels in English (the checks above can fail on them), and cron-descriptor's English description."""
    ja_client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    tasks = ja_client.get(_url("periodictask", "changelist")).content.decode()
    assert {"Scheduler", "Task Name"} <= set(untranslated_strings(tasks, entries=beat_label_entries()))
    assert "By Task Name" in visible_text(tasks)
    for url in (_url("crontabschedule", "changelist"), _url("crontabschedule", "change", schedules["crontab"].pk)):
        html = ja_client.get(url).content.decode()
        assert '<html lang="en"' in html
        assert "Human readable" in set(untranslated_strings(html, entries=beat_label_entries()))
        assert "At 03:00 UTC" in visible_text(html)
        assert not re.search(r"[\u3040-\u30ff]", " ".join(visible_text(html)))  # no kana anywhere


def _script(html: str, script_id: str) -> str:
    return re.search(rf'<script id="{script_id}"[^>]*>(.*?)</script>', html, re.S).group(1)


@pytest.mark.parametrize(("language", "described", "label"), [
    ("ja", AT_THREE_JA, "説明:"),
    ("en", "At 03:00 UTC", "Translation:"),
])
def test_the_crontab_select_describes_each_crontab_in_the_page_language(ja_client, schedules, language, described,
                                                                        label):
    """A periodic task's page describes the chosen crontab under the select (django-celery-beat's script, from a dict
    of every crontab's description): the descriptions and their label are in the page's language."""
    ja_client.defaults["HTTP_ACCEPT_LANGUAGE"] = language
    html = ja_client.get(_url("periodictask", "change", schedules["task"].pk)).content.decode()
    assert json.loads(_script(html, "readable-crontabs"))[str(schedules["crontab"].pk)] == described
    # django-celery-beat's function, then ours in its place with the label translated.
    assert "var updateCrontabHelp = function(additional)" in _script(html, "periodic-task-overrides")
    override = _script(html, "opsportal-crontab-help")
    assert html.index('id="periodic-task-overrides"') < html.index('id="opsportal-crontab-help"')
    assert f"<br/>{label} ${{additional}}" in override


@pytest.mark.parametrize("fields", [
    {"minute": "0", "hour": "3"},
    {"minute": "*/15", "hour": "9-17", "day_of_week": "mon-fri"},
    {"minute": "0", "hour": "0", "day_of_month": "1,15"},
    {"minute": "30", "hour": "4", "day_of_week": "0-6"},  # all seven days: "*"
    {"minute": "0", "hour": "12", "day_of_week": "sun,sat", "month_of_year": "1"},
    {"minute": "0", "hour": "3", "day_of_week": "funday"},  # celery refuses it, then cron-descriptor: as written
    {"minute": "0", "hour": "3", "month_of_year": "13"},  # the same for another field
], ids=str)
def test_the_description_describes_the_expression_django_celery_beat_describes(fields):
    """crontab_description builds the expression as CrontabSchedule.human_readable does: with the options it uses
    (the server's locale), the same text."""
    crontab = CrontabSchedule(**{"day_of_week": "*", "day_of_month": "*", "month_of_year": "*", "timezone": "UTC",
                                 **fields})
    expression = crontab_expression(crontab=crontab)
    try:
        described = get_description(expression, Options())
    except (MissingFieldException, FormatException, WrongArgumentException):  # as human_readable does
        described = expression
    assert crontab.human_readable == f"{described} UTC"


def test_the_description_is_in_the_language_asked_for_with_24_hour_times():
    crontab = CrontabSchedule(minute="30", hour="17", day_of_week="*", day_of_month="*", month_of_year="*",
                              timezone="Asia/Tokyo")
    assert crontab_description(crontab=crontab, language="ja") == "次において実施 17:30 Asia/Tokyo"
    assert crontab_description(crontab=crontab, language="en") == "At 17:30 Asia/Tokyo"
    with translation.override("ja"):
        assert crontab_description(crontab=crontab) == "次において実施 17:30 Asia/Tokyo"
    unreadable = CrontabSchedule(minute="0", hour="3", day_of_week="*", day_of_month="*", month_of_year="13",
                                 timezone="UTC")
    assert crontab_description(crontab=unreadable, language="ja") == "0 3 * 13 * UTC"


def test_weekdays_and_months_in_a_japanese_description_are_japanese():
    # cron-descriptor takes these names from the server's C locale (English), not from its catalog.
    crontab = CrontabSchedule(minute="0", hour="5", day_of_week="0", day_of_month="*", month_of_year="3",
                              timezone="UTC")
    japanese = crontab_description(crontab=crontab, language="ja")
    assert "日曜日" in japanese and "3月" in japanese, japanese
    assert not re.search(r"Sunday|March", japanese), japanese
    english = crontab_description(crontab=crontab, language="en")
    assert "Sunday" in english and "March" in english, english


def test_the_admins_are_django_celery_beats_own_with_their_actions_forms_and_templates():
    for model, original in ((PeriodicTask, beat_admin.PeriodicTaskAdmin),
                            (CrontabSchedule, beat_admin.CrontabScheduleAdmin),
                            (IntervalSchedule, beat_admin.IntervalScheduleAdmin),
                            (SolarSchedule, beat_admin.SolarScheduleAdmin),
                            (ClockedSchedule, beat_admin.ClockedScheduleAdmin)):
        registered = admin.site._registry[model]
        assert isinstance(registered, original) and type(registered) is not original
        assert registered.list_display == original.list_display
        assert registered.get_readonly_fields(None) == original.readonly_fields
        assert [inline.model for inline in registered.inlines] == [inline.model for inline in original.inlines]
    tasks = admin.site._registry[PeriodicTask]
    assert tasks.form is beat_admin.PeriodicTaskForm
    assert tasks.actions == beat_admin.PeriodicTaskAdmin.actions
    assert tasks.run_tasks.short_description == beat_admin.PeriodicTaskAdmin.run_tasks.short_description
    assert tasks.fieldsets == beat_admin.PeriodicTaskAdmin.fieldsets


@pytest.mark.parametrize(("action", "japanese", "enabled"), [
    ("enable_tasks", "2 件のタスクを有効にしました。", [True, True]),
    ("disable_tasks", "2 件のタスクを無効にしました。", [False, False]),
    ("toggle_tasks", "2 件のタスクの有効・無効を切り替えました。", [False, True]),
])
def test_the_enable_disable_and_toggle_actions_answer_in_japanese(ja_client, schedules, action, japanese, enabled):
    tasks = [schedules["task"], schedules["nightly"]]
    response = ja_client.post(_url("periodictask", "changelist"),
                              {"action": action, "_selected_action": [task.pk for task in tasks]}, follow=True)
    assert [str(message) for message in response.context["messages"]] == [japanese]
    assert [PeriodicTask.objects.get(pk=task.pk).enabled for task in tasks] == enabled


def test_run_selected_tasks_answers_in_japanese(ja_client, schedules):
    from opsportal.celery import app

    app.control.purge()
    try:
        response = ja_client.post(_url("periodictask", "changelist"),
                                  {"action": "run_tasks", "_selected_action": [schedules["task"].pk]}, follow=True)
    finally:
        app.control.purge()  # the one celery.backend_cleanup message: no worker here takes it
    assert [str(message) for message in response.context["messages"]] == ["1 件のタスク (task) を実行しました。"]


@pytest.mark.parametrize(("language", "said"), [
    ("ja", "タスク「no.such.task」が見つかりません。"),
    ("en", 'task "no.such.task" not found'),
])
def test_running_a_task_nobody_registered_is_refused_in_the_page_language(ja_client, schedules, language, said):
    from opsportal.celery import app

    unknown = PeriodicTask.objects.create(name="unknown", task="no.such.task", interval=schedules["interval"])
    ja_client.defaults["HTTP_ACCEPT_LANGUAGE"] = language
    app.control.purge()
    try:
        response = ja_client.post(_url("periodictask", "changelist"), {
            "action": "run_tasks", "_selected_action": [schedules["task"].pk, unknown.pk]}, follow=True)
    finally:
        sent = app.control.purge()
    assert [(str(message), message.level_tag) for message in response.context["messages"]] == [(said, "error")]
    assert sent == 0  # nothing run, not even the known task


def test_a_periodic_task_without_a_task_name_is_refused_in_japanese(ja_client, schedules):
    response = ja_client.post(_url("periodictask", "add"), {
        "name": "nameless", "interval": schedules["interval"].pk, "args": "[]", "kwargs": "{}", "headers": "{}",
        "priority": "", "enabled": "on",
    })
    assert response.status_code == 200
    html = response.content.decode()
    assert "タスク名が必要です。" in html
    assert untranslated_strings(html, entries=celery_beat_entries()) == []
    assert not PeriodicTask.objects.filter(name="nameless").exists()


def test_plural_messages_use_the_japanese_plural_form_for_every_count():
    """Our catalog's header carries Japanese plural forms (one form): without it, counts other than 1 fell back to
    English."""
    from django.utils.translation import ngettext

    with translation.override("ja"):
        for count in (1, 2, 11):
            assert ngettext("{0} task was successfully enabled", "{0} tasks were successfully enabled",
                            count).format(count) == f"{count} 件のタスクを有効にしました。"


def test_every_string_of_django_celery_beat_reads_japanese():
    """Each msgid of the installed version, looked up as Django does (apps merged, LOCALE_PATHS last): none comes
    back in English, and none is overridden by a different translation from an app listed earlier."""
    ours = {entry.msgid: entry.msgstr[0] for entry in po_entries(third_party_catalog_path("ja"))}
    with translation.override("ja"):
        looked_up = {entry.msgid: translation.gettext(entry.msgid) if not entry.msgid_plural
                     else translation.ngettext(entry.msgid, entry.msgid_plural, 2)
                     for entry in celery_beat_entries()}
    assert {msgid: text for msgid, text in looked_up.items() if text == msgid} == {}
    assert {msgid: text for msgid, text in looked_up.items() if text != ours[msgid]} == {}
