# The fields the outgoing-mail table replaced, removed in a migration of their own: on
# PostgreSQL a table cannot be altered in the transaction that just updated its foreign keys.

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ("letters", "0007_outgoing_mail"),
    ]

    operations = [
        migrations.RemoveField(
            model_name='delivery',
            name='attempts',
        ),
        migrations.RemoveField(
            model_name='delivery',
            name='message_id',
        ),
        migrations.RemoveField(
            model_name='delivery',
            name='next_attempt_at',
        ),
        migrations.RemoveField(
            model_name='delivery',
            name='queued_at',
        ),
        migrations.RemoveField(
            model_name='letter',
            name='confirmation_emailed_at',
        ),
        migrations.RemoveField(
            model_name='letter',
            name='copy_sent_at',
        ),
    ]
