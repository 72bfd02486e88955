"""Asking writers whether council replied: one email per letter, Campaign.followup_days after
it went out, only to writers who asked for it ("Ask me in two weeks whether council replied").

followups_create() makes the emails that are due (the beat runs it daily through the task
followups_send, and so does `manage.py send_followups`); letters.sending sends them. Each
letter is asked once: followup_sent_at is set in the same transaction as its email is made.
"""

import logging
from datetime import timedelta

from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from campaigns.models import Campaign

from .models import Delivery, Letter, OutgoingMail

logger = logging.getLogger(__name__)

# A letter reached council once it went to at least one representative (the clerk's copy is
# not something a councillor replies to, and the reply page does not offer it).
_SENT = (Delivery.Status.SENT, Delivery.Status.DELIVERED)


def followups_create(*, now=None) -> int:
    """Make the follow-up email of every letter that asked for one and whose last delivery
    to a representative went out at least its campaign's followup_days ago: confirmed, not a
    test, not erased. Returns how many were made.

    The due letters are chosen in the database, campaign by campaign (each has its own
    number of days), and locked while their emails are made: two runs at once (the beat and
    the command) skip each other's letters rather than asking twice. No aggregate here:
    PostgreSQL refuses FOR UPDATE on a grouped query.
    """
    now = now or timezone.now()
    sent = Delivery.objects.filter(letter=OuterRef("pk"), status__in=_SENT, to_clerk=False)
    made = 0
    with transaction.atomic():
        for campaign in Campaign.objects.only("pk", "followup_days").order_by("pk"):
            cutoff = now - timedelta(days=campaign.followup_days)
            due = list(
                Letter.objects.select_for_update(skip_locked=True)
                .filter(
                    campaign_id=campaign.pk,
                    followup_consent=True,
                    followup_sent_at__isnull=True,
                    status=Letter.Status.CONFIRMED,
                    is_test=False,
                    purged_at__isnull=True,
                )
                .exclude(email="")
                .filter(Exists(sent.filter(sent_at__lte=cutoff)))
                .exclude(Exists(sent.filter(sent_at__gt=cutoff)))
                .values_list("pk", flat=True)
            )
            if not due:
                continue
            OutgoingMail.objects.bulk_create(
                [
                    OutgoingMail(
                        kind=OutgoingMail.Kind.FOLLOWUP, letter_id=pk, campaign_id=campaign.pk
                    )
                    for pk in due
                ]
            )
            Letter.objects.filter(pk__in=due).update(followup_sent_at=now)
            made += len(due)
    if made:
        logger.info("Made %d follow-up emails", made)
    return made
