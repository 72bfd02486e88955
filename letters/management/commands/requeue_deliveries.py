from datetime import timedelta

from django.conf import settings
from django.core.management.base import BaseCommand

from letters.delivery import deliveries_requeue


class Command(BaseCommand):
    help = (
        "Queue again the deliveries whose task was lost: queued (or due for a retry) or "
        "sending for longer than DELIVERY_STUCK_AFTER seconds (or --older-than), after a dead "
        "worker, a Redis restart or a broker outage, and start their tasks. A delivery "
        "interrupted mid-send goes out again with the same Message-ID. Also restarts residents' "
        "copies that never went out. Celery beat runs this every DELIVERY_REQUEUE_EVERY seconds."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--older-than",
            type=int,
            default=None,
            metavar="SECONDS",
            help="Stuck for longer than this (default: DELIVERY_STUCK_AFTER).",
        )

    def handle(self, *args, older_than=None, **options):
        seconds = settings.DELIVERY_STUCK_AFTER if older_than is None else older_than
        count = deliveries_requeue(older_than=timedelta(seconds=seconds))
        self.stdout.write(f"Re-queued {count} stuck deliveries (stuck for over {seconds} s)")
