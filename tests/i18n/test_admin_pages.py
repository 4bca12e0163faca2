"""The main admin pages in Japanese: each shows the expected Japanese words and no English string of ours."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.urls import reverse

from alerting.models import AlertRule, NotificationChannel
from monitoring.models import CheckResult, HealthSnapshot, Status
from performance.models import PerfTarget, RequestRollup
from tests.backups.conftest import make_run
from tests.i18n.conftest import untranslated_in, untranslated_strings, visible_text

pytestmark = pytest.mark.django_db


@pytest.fixture
def portal(firing_alert):
    """Something on every page: a backup with artifacts, a failed one, a critical snapshot, a firing alert."""
    run = make_run()
    run.artifacts.create(kind="database", name="default", path="p/01", sha256="0" * 64, format="pg_dump-custom")
    run.artifacts.create(kind="file", name="/srv/opsportal/.env", path="p/02", sha256="1" * 64, format="file")
    make_run(status="failed", error="pg_dump exited with 1")
    RequestRollup.objects.create(hour=datetime(2026, 11, 1, 9, 0, tzinfo=UTC), count=2, sum_ms=30, max_ms=20,
                                 buckets=[2] + [0] * 10)
    at = datetime(2026, 11, 1, 10, 0, tzinfo=UTC)
    snapshot = HealthSnapshot.objects.create(taken_at=at, status=Status.CRITICAL, duration_ms=5)
    CheckResult.objects.create(snapshot=snapshot, taken_at=at, check_name="database", host="db1",
                               status=Status.CRITICAL, message="timeout", duration_ms=1)
    channel = NotificationChannel.objects.create(name="ops", url="json://127.0.0.1:9/hook", language="ja")
    # The database alias "default" is data that happens to equal the msgid "default" (alert rules' column).
    return {"data": frozenset({"default"}), "run": run, "snapshot": snapshot, "alert": firing_alert, "channel": channel,
            "rule": firing_alert.rule, "target": PerfTarget.objects.order_by("pk").first()}


PAGES = [
    # (name, url builder, Japanese the page must show)
    ("index and operations overview", lambda p: reverse("admin:index"),
     ["運用の概要", "最新のバックアップ", "発生中のアラート", "性能と予算", "Celery ワーカー", "今すぐバックアップ"]),
    ("backup runs", lambda p: reverse("admin:backups_backuprun_changelist"),
     ["バックアップ実行", "今すぐバックアップ", "保持ポリシー", "成功"]),
    ("a backup run", lambda p: reverse("admin:backups_backuprun_change", args=[p["run"].pk]),
     ["検証", "リストア訓練", "ピン留め", "リストア…", "バックアップアーティファクト"]),
    ("restore confirmation", lambda p: reverse("admin:backups_backuprun_restore", args=[p["run"].pk]),
     ["今すぐリストア", "先に安全バックアップを取得", "確認のため"]),
    ("delete confirmation", lambda p: reverse("admin:backups_backuprun_delete", args=[p["run"].pk]),
     ["リストアできなくなります"]),
    ("health snapshots", lambda p: reverse("admin:monitoring_healthsnapshot_changelist"),
     ["ヘルススナップショット", "重大", "失敗しているチェック"]),
    ("a health snapshot", lambda p: reverse("admin:monitoring_healthsnapshot_change", args=[p["snapshot"].pk]),
     ["チェック結果", "重大"]),
    ("alert rules", lambda p: reverse("admin:alerting_alertrule_changelist"), ["アラートルール", "重大度"]),
    ("an alert rule", lambda p: reverse("admin:alerting_alertrule_change", args=[p["rule"].pk]),
     ["しきい値", "再通知間隔", "解決時に通知"]),
    ("alerts", lambda p: reverse("admin:alerting_alert_changelist"), ["発生中", "1 時間サイレンス"]),
    ("a notification channel", lambda p: reverse("admin:alerting_notificationchannel_change", args=[p["channel"].pk]),
     ["通知チャネル", "このチャネルに送信するメッセージの言語。"]),
    ("silences", lambda p: reverse("admin:alerting_silence_add"), ["サイレンス", "開始日時"]),
    ("perf targets", lambda p: reverse("admin:performance_perftarget_changelist"),
     ["性能ターゲット", "予算", "選択したターゲットを今すぐ計測"]),
    ("a perf target", lambda p: reverse("admin:performance_perftarget_change", args=[p["target"].pk]),
     ["計測ごとのサンプル数", "サービスユーザー"]),
    ("hourly request rollups", lambda p: reverse("admin:performance_requestrollup_changelist"),
     ["リクエストの時間別集計", "平均", "最大"]),  # avg and max, each value with its unit
]


@pytest.mark.parametrize(("url", "japanese"), [(url, japanese) for _, url, japanese in PAGES],
                         ids=[name for name, _, _ in PAGES])
def test_the_page_is_in_japanese_with_no_english_string_of_ours(ja_client, portal, url, japanese):
    response = ja_client.get(url(portal))
    assert response.status_code == 200
    html = response.content.decode()
    assert '<html lang="ja"' in html
    text = " ".join(visible_text(html))
    missing = [word for word in japanese if word not in text]
    assert not missing, f"not on the page: {missing}"
    assert untranslated_strings(html, data=portal["data"]) == []


def test_the_checker_finds_an_english_string_of_ours(ja_client, portal):
    """The same pages in English are full of our msgids: the check above can fail."""
    ja_client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    html = ja_client.get(reverse("admin:index")).content.decode()
    assert {"Operations overview", "Last backup", "Firing alerts"} <= set(untranslated_strings(html))


def test_a_default_rule_keeps_its_stored_name_but_reads_japanese_where_shown_as_text(ja_client, portal):
    rule = AlertRule.objects.get(key="disk-full")
    assert rule.name == "Disk almost full"
    overview = ja_client.get(reverse("admin:index")).content.decode()
    assert "ディスク容量がほぼ満杯" in overview


def test_every_message_the_history_script_shows_is_in_japanese():
    # The page's script has no catalog: it shows these strings as the view translated them. Each must be a marked
    # string (extracted into the catalog) with a Japanese translation.
    from django.utils import translation

    from dashboards.views import DASHBOARD_MESSAGES

    with translation.override("en"):
        english = {key: str(message) for key, message in DASHBOARD_MESSAGES.items()}
    with translation.override("ja"):
        japanese = {key: str(message) for key, message in DASHBOARD_MESSAGES.items()}
    assert [key for key in DASHBOARD_MESSAGES if japanese[key] == english[key]] == []
    assert untranslated_in(list(japanese.values())) == []
