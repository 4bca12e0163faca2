# The backfill is its own migration: the covering unique indexes of 0003 are created when its schema editor exits
# (Django defers CREATE UNIQUE INDEX ... INCLUDE), and the upserts need them.

from datetime import timedelta

from django.db import migrations


def backfill_daily_rollups(apps, schema_editor):
    """Daily rows for every day the existing hourly rollups cover (one aggregation query per table)."""
    from monitoring.history import health_history_rollup_daily

    bounds = []
    for model_name in ("MetricRollup", "CheckRollup"):
        hours = apps.get_model("monitoring", model_name).objects
        oldest = hours.order_by("hour").values_list("hour", flat=True).first()
        newest = hours.order_by("-hour").values_list("hour", flat=True).first()
        if oldest is not None:
            bounds += [oldest, newest + timedelta(hours=1)]
    if bounds:
        health_history_rollup_daily(since=min(bounds), until=max(bounds), apps=apps)


class Migration(migrations.Migration):

    dependencies = [
        ('monitoring', '0003_daily_rollups'),
    ]

    operations = [
        migrations.RunPython(backfill_daily_rollups, migrations.RunPython.noop),
    ]
