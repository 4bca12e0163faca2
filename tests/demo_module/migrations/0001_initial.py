from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True
    dependencies = []

    operations = [
        migrations.CreateModel(
            name="Shipment",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("reference", models.CharField(max_length=32, verbose_name="reference")),
                ("shipped", models.BooleanField(default=False, verbose_name="shipped")),
            ],
            options={"verbose_name": "shipment", "verbose_name_plural": "shipments"},
        ),
    ]
