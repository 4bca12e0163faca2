"""Secrets stored in the database (probe passwords, notification channel URLs), encrypted with Fernet.

One key per purpose is derived (HKDF-SHA256) from SECRET_KEY and from each of SECRET_KEY_FALLBACKS, so no extra key
has to be managed. MultiFernet decrypts with any of them and encrypts with the first: after a SECRET_KEY rotation that
keeps the old key in SECRET_KEY_FALLBACKS, stored secrets stay readable and every re-save uses the new key.
"""

from __future__ import annotations

import base64
import functools

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.db import models
from django.utils.translation import gettext

_SALT = b"opsportal.secrets-at-rest.v1"


class SecretDecryptError(Exception):
    """A stored secret cannot be decrypted with SECRET_KEY or any of SECRET_KEY_FALLBACKS."""


@functools.lru_cache(maxsize=32)
def _fernet(keys: tuple[str, ...], purpose: str) -> MultiFernet:
    fernets = []
    for key in keys:
        derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=_SALT, info=purpose.encode()).derive(key.encode())
        fernets.append(Fernet(base64.urlsafe_b64encode(derived)))
    return MultiFernet(fernets)


def _current(purpose: str) -> MultiFernet:
    return _fernet((settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])), purpose)


def encrypt(text: str, *, purpose: str) -> str:
    """A Fernet token (URL-safe ASCII) for text, under the key SECRET_KEY gives for purpose."""
    return _current(purpose).encrypt(text.encode()).decode("ascii")


def decrypt(token: str, *, purpose: str) -> str:
    """The text of a token made by encrypt(); SecretDecryptError (never holding the token) when no key opens it."""
    try:
        return _current(purpose).decrypt(token.encode("ascii")).decode()
    except (InvalidToken, UnicodeError, ValueError, TypeError):
        raise SecretDecryptError(
            gettext(
                "a stored secret cannot be decrypted (was SECRET_KEY changed without keeping the old key in "
                "SECRET_KEY_FALLBACKS?); enter it again"
            )
        ) from None


def is_token(value: str, *, purpose: str) -> bool:
    """Whether value is a token some current key opens (migrations use it to skip rows already converted)."""
    try:
        decrypt(value, purpose=purpose)
    except SecretDecryptError:
        return False
    return True


def mask(secret: str) -> str:
    """What the admin shows of a stored secret: its scheme, if it is a URL, and its last four characters."""
    if not secret:
        return ""
    scheme, sep, _rest = secret.partition("://")
    prefix = f"{scheme}://" if sep and scheme.isascii() and scheme.replace("+", "").isalnum() else ""
    tail = secret[-4:] if len(secret) >= 16 else ""
    return f"{prefix}••••••••{tail}"


class UnreadableSecret(str):
    """Loaded in place of a secret no current key opens: empty, and saved back as the original token, unchanged."""

    token: str

    def __new__(cls, token: str) -> UnreadableSecret:
        value = super().__new__(cls, "")
        value.token = token
        return value


class EncryptedTextField(models.TextField):
    """A text column holding a Fernet token; the model attribute is the plain text.

    Lookups on the column cannot match (every token differs); filter in Python if ever needed.
    """

    def __init__(self, *args, purpose: str, **kwargs) -> None:
        self.purpose = purpose
        super().__init__(*args, **kwargs)

    def deconstruct(self):
        name, path, args, kwargs = super().deconstruct()
        kwargs["purpose"] = self.purpose
        return name, path, args, kwargs

    def from_db_value(self, value, expression, connection):
        if not value:
            return value
        try:
            return decrypt(value, purpose=self.purpose)
        except SecretDecryptError:
            return UnreadableSecret(value)

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        if isinstance(value, UnreadableSecret):
            return value.token
        if not value:
            return value
        return encrypt(value, purpose=self.purpose)
