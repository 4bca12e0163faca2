"""Service-user passwords of page targets, encrypted at rest (opsportal/lib/secrets_at_rest.py, Fernet).

The key is derived from SECRET_KEY, and SECRET_KEY_FALLBACKS keep passwords readable across a rotation; without the
old key the probe says the password cannot be decrypted — enter it again.
Plaintext lives only in the probe's memory while it logs in: never in the database, the admin, logs or errors.
"""

from __future__ import annotations

from django.utils.translation import gettext

from opsportal.lib import secrets_at_rest

PURPOSE = "opsportal.performance.login-password.v2"


class CredentialError(Exception):
    """A stored password cannot be decrypted (SECRET_KEY changed, or the value was tampered with)."""


def encrypt_password(plaintext: str) -> bytes:
    if not plaintext:
        return b""
    return secrets_at_rest.encrypt(plaintext, purpose=PURPOSE).encode("ascii")


def decrypt_password(ciphertext: bytes | memoryview) -> str:
    if not ciphertext:
        return ""
    try:
        return secrets_at_rest.decrypt(bytes(ciphertext).decode("ascii", "replace"), purpose=PURPOSE)
    except secrets_at_rest.SecretDecryptError as exc:
        raise CredentialError(
            gettext(
                "the stored service-user password cannot be decrypted (was SECRET_KEY changed without keeping the "
                "old key in SECRET_KEY_FALLBACKS?); enter it again"
            )
        ) from exc
