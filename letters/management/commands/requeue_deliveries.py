from datetime import timedelta

from django.conf import settings
from django.core.management.base import BaseCommand

from letters.sending import mails_send_due


class Command(BaseCommand):
    help = (
        "Send every email that is due and has not gone out: new ones whose task was lost "
        "(a dead worker, a Redis restart, a broker outage), retries whose backoff has passed, "
        "and those left sending for longer than DELIVERY_STUCK_AFTER seconds (or --older-than), "
        "which go out again with the same Message-ID. Celery beat runs this sweep every "
        "DELIVERY_REQUEUE_EVERY seconds."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--older-than",
            type=int,
            default=None,
            metavar="SECONDS",
            help="Left sending for longer than this (default: DELIVERY_STUCK_AFTER).",
        )

    def handle(self, *args, older_than=None, **options):
        seconds = settings.DELIVERY_STUCK_AFTER if older_than is None else older_than
        count = mails_send_due(stuck_after=timedelta(seconds=seconds))
        self.stdout.write(f"Sent {count} due emails (stuck if sending for over {seconds} s)")
