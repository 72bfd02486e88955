from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("letters", "0013_personal_part_near_duplicates"),
    ]

    operations = [
        migrations.AddField(
            model_name="recipientpace",
            name="last_sent_at",
            field=models.DateTimeField(blank=True, null=True, verbose_name="last sent"),
        ),
        migrations.AddIndex(
            model_name="delivery",
            index=models.Index(
                condition=models.Q(("status", "queued")),
                fields=["recipient_email"],
                name="delivery_queued_recipient_idx",
            ),
        ),
    ]
