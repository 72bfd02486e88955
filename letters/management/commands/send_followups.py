from django.core.management.base import BaseCommand

from letters.followups import followups_create
from letters.sending import mails_send_due


class Command(BaseCommand):
    help = (
        "Ask writers whether council replied: one email per letter whose writer ticked 'Ask "
        "me in two weeks whether council replied', once its last delivery went out at least "
        "the campaign's follow-up days ago. Each letter is asked once. Sends them now (and "
        "any other email that is due). Celery beat runs the same daily (FOLLOWUP_HOUR)."
    )

    def handle(self, *args, **options):
        made = followups_create()
        sent = mails_send_due()
        self.stdout.write(f"Made {made} follow-up emails; sent {sent} due emails")
