"""Checkpoints keep their Merkle frontier so the next one only hashes newer entries.

A nullable column without a default is added in place (ALTER TABLE ADD COLUMN) on SQLite as on
PostgreSQL: the table is not rebuilt, so its append-only triggers stay.
"""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("audit", "0002_append_only_triggers")]
    operations = [
        migrations.AddField(
            model_name="checkpoint",
            name="frontier",
            field=models.TextField(blank=True, null=True),
        ),
    ]
