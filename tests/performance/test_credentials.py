"""Service-user passwords at rest: Fernet tokens in the database, readable across a SECRET_KEY rotation that keeps
the old key in SECRET_KEY_FALLBACKS, and a clear failure (never a traceback, never the password) without it."""

from __future__ import annotations

import pytest
from django.db import connection

from performance.credentials import CredentialError, decrypt_password, encrypt_password
from performance.models import PerfResult, PerfTarget
from performance.services import perf_target_measure

pytestmark = pytest.mark.django_db

OLD_KEY = "old-secret-key-for-rotation-tests-0123456789-abcdefghij"
NEW_KEY = "new-secret-key-for-rotation-tests-9876543210-zyxwvutsrq"


def _target(password: str) -> PerfTarget:
    return PerfTarget.objects.create(name="members", kind="page", url="/members/", samples=1,
                                     login_username="perf-probe", login_password_encrypted=encrypt_password(password))


def test_the_password_column_holds_a_token_not_the_password():
    target = _target("probe-Secret-9f2c")
    with connection.cursor() as cursor:
        cursor.execute("SELECT login_password_encrypted FROM performance_perftarget WHERE id = %s", [target.pk])
        stored = bytes(cursor.fetchone()[0])
    assert b"probe-Secret-9f2c" not in stored and stored.startswith(b"gAAAAA")


def test_a_rotation_with_the_old_key_in_fallbacks_keeps_the_password_and_a_re_save_uses_the_new_key(settings):
    settings.SECRET_KEY = OLD_KEY
    old_token = encrypt_password("probe-Secret-9f2c")
    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = NEW_KEY, [OLD_KEY]
    assert decrypt_password(old_token) == "probe-Secret-9f2c"
    new_token = encrypt_password(decrypt_password(old_token))
    settings.SECRET_KEY_FALLBACKS = []
    assert decrypt_password(new_token) == "probe-Secret-9f2c"
    with pytest.raises(CredentialError):
        decrypt_password(old_token)


def test_a_password_under_a_foreign_key_fails_the_probe_with_a_clear_reason(settings):
    settings.SECRET_KEY = OLD_KEY
    target = _target("probe-Secret-9f2c")
    settings.SECRET_KEY = NEW_KEY
    (sample,) = perf_target_measure(target=PerfTarget.objects.get(pk=target.pk))
    assert sample.outcome == PerfResult.Outcome.FAILED
    assert "cannot be decrypted" in sample.error and "SECRET_KEY_FALLBACKS" in sample.error
    assert "probe-Secret-9f2c" not in sample.error and "Traceback" not in sample.error
