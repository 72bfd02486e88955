# In a migration of its own: on PostgreSQL a table cannot be altered in the transaction that
# just updated its foreign keys (0009 filled the column).

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("campaigns", "0002_delivery_schedule"),
        ("letters", "0009_pacing_digests_and_failures"),
    ]

    operations = [
        migrations.AlterField(
            model_name="outgoingmail",
            name="campaign",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.CASCADE,
                related_name="mails",
                to="campaigns.campaign",
                verbose_name="campaign",
            ),
        ),
    ]
