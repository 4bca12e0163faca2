from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('backups', '0005_progress_estimates'),
    ]

    operations = [
        migrations.AddField(
            model_name='backuprun',
            name='drill_started_at',
            field=models.DateTimeField(blank=True, null=True, verbose_name='restore drill started'),
        ),
        migrations.AddField(
            model_name='backuprun',
            name='drill_heartbeat_at',
            field=models.DateTimeField(blank=True, null=True, verbose_name='restore drill heartbeat'),
        ),
        migrations.AddField(
            model_name='backuprun',
            name='drill_bytes_done',
            field=models.BigIntegerField(default=0, verbose_name='restore drill bytes done'),
        ),
        migrations.AddField(
            model_name='backuprun',
            name='drill_bytes_total',
            field=models.BigIntegerField(blank=True, null=True, verbose_name='restore drill bytes to decode'),
        ),
    ]
