"""Which language a page speaks: LANGUAGE_CODE by default, the browser's Accept-Language, the header's switcher."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from django.conf import settings
from django.urls import reverse

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin(client, django_user_model):
    client.force_login(django_user_model.objects.create_superuser("root", "root@example.com", "pw"))
    return client


def test_accept_language_picks_the_language(admin):
    assert "運用の概要" in admin.get(reverse("admin:index"), HTTP_ACCEPT_LANGUAGE="ja").content.decode()
    assert "Operations overview" in admin.get(reverse("admin:index"), HTTP_ACCEPT_LANGUAGE="en").content.decode()


def test_language_code_is_the_default_when_the_browser_asks_for_nothing_we_speak(admin, settings):
    settings.LANGUAGE_CODE = "ja"
    page = admin.get(reverse("admin:index"), HTTP_ACCEPT_LANGUAGE="fr").content.decode()
    assert '<html lang="ja"' in page and "運用の概要" in page


def test_the_header_switcher_offers_each_language_in_its_own_name_and_its_choice_sticks(admin):
    page = admin.get(reverse("admin:index"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert 'id="language-switcher"' in page
    assert '<option value="en" selected>English</option>' in page
    assert '<option value="ja">日本語</option>' in page

    response = admin.post(reverse("set_language"), {"language": "ja", "next": reverse("admin:index")},
                          HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 302 and response["Location"] == reverse("admin:index")
    assert response.cookies[settings.LANGUAGE_COOKIE_NAME].value == "ja"

    # The cookie wins over the browser's Accept-Language from now on.
    page = admin.get(reverse("admin:backups_backuprun_changelist"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "今すぐバックアップ" in page
    assert '<option value="ja" selected>日本語</option>' in page


def test_language_code_and_time_zone_come_from_the_environment():
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "opsportal.settings", "ENV_FILE": "", "DEBUG": "true",
           "LANGUAGE_CODE": "ja", "TIME_ZONE": "Asia/Tokyo"}
    code = "import django; django.setup(); from django.conf import settings as s; print(s.LANGUAGE_CODE, s.TIME_ZONE)"
    output = subprocess.run([sys.executable, "-c", code], env=env, cwd=settings.BASE_DIR, capture_output=True,
                            text=True, check=True).stdout
    assert output.split() == ["ja", "Asia/Tokyo"]
