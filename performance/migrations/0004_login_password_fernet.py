"""Service-user passwords: from the hand-built age identity to Fernet (opsportal/lib/secrets_at_rest.py).

The old format is read here, once: an age file encrypted to an X25519 identity whose secret is
HMAC-SHA256(SECRET_KEY, PURPOSE_AGE), bech32-encoded as age expects. Rows no present key opens are left as they are
(the probe then says the password cannot be decrypted, as before).
"""

import hashlib
import hmac

import pyrage
from django.conf import settings
from django.db import migrations

from opsportal.lib.secrets_at_rest import SecretDecryptError, decrypt, encrypt

PURPOSE_AGE = b"opsportal.performance.login-password.v1"
PURPOSE_FERNET = "opsportal.performance.login-password.v2"  # performance.credentials.PURPOSE when this was written
_AGE_HEADER = b"age-encryption.org/"
_CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"


def _bech32_polymod(values):
    generator = [0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3]
    checksum = 1
    for value in values:
        top = checksum >> 25
        checksum = (checksum & 0x1FFFFFF) << 5 ^ value
        for index in range(5):
            checksum ^= generator[index] if (top >> index) & 1 else 0
    return checksum


def _bech32_encode(hrp, data):
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


def age_identity(secret_key):
    secret = hmac.new(secret_key.encode(), PURPOSE_AGE, hashlib.sha256).digest()
    return pyrage.x25519.Identity.from_str(_bech32_encode("age-secret-key-", secret).upper())


def age_encrypt(plaintext):
    return pyrage.encrypt(plaintext.encode(), [age_identity(settings.SECRET_KEY).to_public()])


def age_decrypt(ciphertext):
    identities = [age_identity(key) for key in (settings.SECRET_KEY, *settings.SECRET_KEY_FALLBACKS)]
    return pyrage.decrypt(ciphertext, identities).decode()


def age_to_fernet(apps, schema_editor):
    target_model = apps.get_model("performance", "PerfTarget")
    for pk, stored in target_model.objects.exclude(login_password_encrypted=b"").values_list(
        "pk", "login_password_encrypted"
    ):
        stored = bytes(stored)
        if not stored.startswith(_AGE_HEADER):
            continue  # already converted
        try:
            password = age_decrypt(stored)
        except Exception:  # noqa: BLE001 (pyrage's DecryptError: unreadable with the present keys, left as it is)
            continue
        token = encrypt(password, purpose=PURPOSE_FERNET).encode("ascii")
        target_model.objects.filter(pk=pk).update(login_password_encrypted=token)


def fernet_to_age(apps, schema_editor):
    target_model = apps.get_model("performance", "PerfTarget")
    for pk, stored in target_model.objects.exclude(login_password_encrypted=b"").values_list(
        "pk", "login_password_encrypted"
    ):
        stored = bytes(stored)
        if stored.startswith(_AGE_HEADER):
            continue
        try:
            password = decrypt(stored.decode("ascii", "replace"), purpose=PURPOSE_FERNET)
        except SecretDecryptError:
            continue
        target_model.objects.filter(pk=pk).update(login_password_encrypted=age_encrypt(password))


class Migration(migrations.Migration):
    dependencies = [
        ("performance", "0003_target_failing"),
    ]

    operations = [
        migrations.RunPython(age_to_fernet, fernet_to_age, elidable=False),
    ]
