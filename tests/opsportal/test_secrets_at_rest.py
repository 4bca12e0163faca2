"""Secrets at rest: Fernet keys derived from SECRET_KEY; SECRET_KEY_FALLBACKS keep old tokens readable."""

from __future__ import annotations

import pytest

from opsportal.lib.secrets_at_rest import SecretDecryptError, decrypt, encrypt, mask

OLD_KEY = "old-secret-key-for-rotation-tests-0123456789-abcdefghij"
NEW_KEY = "new-secret-key-for-rotation-tests-9876543210-zyxwvutsrq"


def test_a_secret_round_trips_and_its_token_holds_no_plain_text():
    token = encrypt("smtp-pa55word", purpose="tests.a")
    assert "smtp-pa55word" not in token and token.isascii()
    assert decrypt(token, purpose="tests.a") == "smtp-pa55word"
    assert encrypt("smtp-pa55word", purpose="tests.a") != token  # a fresh IV each time


def test_each_purpose_has_its_own_key():
    token = encrypt("value", purpose="tests.a")
    with pytest.raises(SecretDecryptError):
        decrypt(token, purpose="tests.b")


def test_after_a_rotation_the_old_key_in_fallbacks_still_decrypts_and_new_tokens_use_the_new_key(settings):
    settings.SECRET_KEY = OLD_KEY
    old_token = encrypt("hunter2-token", purpose="tests.a")
    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = NEW_KEY, [OLD_KEY]
    assert decrypt(old_token, purpose="tests.a") == "hunter2-token"
    new_token = encrypt("hunter2-token", purpose="tests.a")
    settings.SECRET_KEY_FALLBACKS = []  # the old key retired: only what was re-encrypted stays readable
    assert decrypt(new_token, purpose="tests.a") == "hunter2-token"
    with pytest.raises(SecretDecryptError):
        decrypt(old_token, purpose="tests.a")


@pytest.mark.parametrize("token", ["", "not a token", "gAAAAAB" + "x" * 80, "é-not-ascii"])
def test_a_token_no_key_opens_raises_a_clear_error_that_names_the_cure(settings, token):
    settings.SECRET_KEY = OLD_KEY
    foreign = encrypt("s3cret-value", purpose="tests.a")
    settings.SECRET_KEY = NEW_KEY
    for candidate in (foreign, token):
        with pytest.raises(SecretDecryptError) as raised:
            decrypt(candidate, purpose="tests.a")
        assert "SECRET_KEY_FALLBACKS" in str(raised.value)
        assert "s3cret-value" not in str(raised.value) and (not candidate or candidate not in str(raised.value))
        assert raised.value.__cause__ is None and raised.value.__suppress_context__


def test_the_mask_keeps_the_scheme_and_hides_the_credentials():
    shown = mask("mailto://alerts:s3cr3t-pw@smtp.example.com?to=ops@example.com")
    assert shown.startswith("mailto://") and "s3cr3t-pw" not in shown and "alerts" not in shown
    assert mask("") == ""
    assert "abc" not in mask("abc")
