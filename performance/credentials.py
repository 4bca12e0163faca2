"""Service-user passwords of page targets, encrypted at rest with age (pyrage).

The age identity is derived from SECRET_KEY (HMAC-SHA256 with a fixed purpose string), so no extra key has to be
managed; rotating SECRET_KEY makes stored passwords unreadable and the probe then says so — enter them again.
Plaintext lives only in the probe's memory while it logs in: never in the database, the admin, logs or errors.
"""

from __future__ import annotations

import hashlib
import hmac

import pyrage
from django.conf import settings

_PURPOSE = b"opsportal.performance.login-password.v1"
_CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"


class CredentialError(Exception):
    """A stored password cannot be decrypted (SECRET_KEY changed, or the value was tampered with)."""


def _bech32_polymod(values: list[int]) -> int:
    generator = [0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3]
    checksum = 1
    for value in values:
        top = checksum >> 25
        checksum = (checksum & 0x1FFFFFF) << 5 ^ value
        for index in range(5):
            checksum ^= generator[index] if (top >> index) & 1 else 0
    return checksum


def _bech32_encode(hrp: str, data: bytes) -> str:
    # BIP-173 bech32, the encoding of age keys; 8-bit bytes regrouped into 5-bit words.
    words, accumulator, bits = [], 0, 0
    for byte in data:
        accumulator = (accumulator << 8) | byte
        bits += 8
        while bits >= 5:
            bits -= 5
            words.append((accumulator >> bits) & 31)
    if bits:
        words.append((accumulator << (5 - bits)) & 31)
    expanded = [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp]
    polymod = _bech32_polymod(expanded + words + [0] * 6) ^ 1
    checksum = [(polymod >> 5 * (5 - i)) & 31 for i in range(6)]
    return hrp + "1" + "".join(_CHARSET[w] for w in words + checksum)


def _identity() -> pyrage.x25519.Identity:
    secret = hmac.new(settings.SECRET_KEY.encode(), _PURPOSE, hashlib.sha256).digest()
    return pyrage.x25519.Identity.from_str(_bech32_encode("age-secret-key-", secret).upper())


def encrypt_password(plaintext: str) -> bytes:
    if not plaintext:
        return b""
    return pyrage.encrypt(plaintext.encode(), [_identity().to_public()])


def decrypt_password(ciphertext: bytes | memoryview) -> str:
    if not ciphertext:
        return ""
    try:
        return pyrage.decrypt(bytes(ciphertext), [_identity()]).decode()
    except Exception as exc:  # pyrage raises its own DecryptError; the message never holds the plaintext
        raise CredentialError(
            "the stored service-user password cannot be decrypted (was SECRET_KEY changed?); enter it again"
        ) from exc
