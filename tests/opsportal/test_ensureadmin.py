from __future__ import annotations

import pytest
from django.contrib.auth import authenticate, get_user_model
from django.core.management import call_command


@pytest.mark.django_db
def test_creates_an_admin_with_a_generated_password_shown_once(capsys, monkeypatch):
    monkeypatch.delenv("ADMIN_USERNAME", raising=False)
    monkeypatch.delenv("ADMIN_PASSWORD", raising=False)
    call_command("ensureadmin")
    out = capsys.readouterr().out
    password = out.split("shown only this once: ")[1].strip()
    assert authenticate(username="admin", password=password).is_superuser

    call_command("ensureadmin")
    assert "exists already" in capsys.readouterr().out
    assert get_user_model().objects.count() == 1


@pytest.mark.django_db
def test_uses_the_configured_name_and_password(capsys, monkeypatch):
    monkeypatch.setenv("ADMIN_USERNAME", "ops")
    monkeypatch.setenv("ADMIN_PASSWORD", "a-chosen-password-42")
    call_command("ensureadmin")
    assert "a-chosen-password-42" not in capsys.readouterr().out
    assert authenticate(username="ops", password="a-chosen-password-42").is_superuser
