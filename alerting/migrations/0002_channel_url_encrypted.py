"""Notification channel URLs hold passwords and tokens: encrypt the stored ones (Fernet, key from SECRET_KEY)."""

from django.db import migrations, models

import opsportal.lib.secrets_at_rest
from opsportal.lib.secrets_at_rest import SecretDecryptError, decrypt, encrypt, is_token

PURPOSE = "opsportal.alerting.channel-url.v1"  # alerting.models.channels.URL_PURPOSE when this was written


def encrypt_urls(apps, schema_editor):
    channel_model = apps.get_model("alerting", "NotificationChannel")
    for pk, url in channel_model.objects.exclude(url="").values_list("pk", "url"):
        if not is_token(url, purpose=PURPOSE):
            channel_model.objects.filter(pk=pk).update(url=encrypt(url, purpose=PURPOSE))


def decrypt_urls(apps, schema_editor):
    channel_model = apps.get_model("alerting", "NotificationChannel")
    for pk, token in channel_model.objects.exclude(url="").values_list("pk", "url"):
        try:
            url = decrypt(token, purpose=PURPOSE)
        except SecretDecryptError:
            continue  # unreadable with the present keys; left as it is
        channel_model.objects.filter(pk=pk).update(url=url)


class Migration(migrations.Migration):
    dependencies = [
        ("alerting", "0001_initial"),
    ]

    operations = [
        # A plain text column first (a token is longer than its URL), converted, then declared encrypted.
        migrations.AlterField(
            model_name="notificationchannel",
            name="url",
            field=models.TextField(blank=True, max_length=2000, verbose_name="Apprise URL"),
        ),
        migrations.RunPython(encrypt_urls, decrypt_urls, elidable=False),
        migrations.AlterField(
            model_name="notificationchannel",
            name="url",
            field=opsportal.lib.secrets_at_rest.EncryptedTextField(
                blank=True,
                help_text=(
                    "For example mailto://user:password@smtp.example.com?to=ops@example.com, slack://..., "
                    "msteams://..., json://hooks.example.com/alerts, ntfy://ntfy.sh/topic. May hold a secret: stored "
                    "encrypted, never shown again."
                ),
                max_length=2000,
                purpose="opsportal.alerting.channel-url.v1",
                verbose_name="Apprise URL",
            ),
        ),
    ]
