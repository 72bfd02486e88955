"""Asking writers whether council replied: one email per letter, Campaign.followup_days after
it went out, only to writers who asked for it ("Ask me in two weeks whether council replied").

followups_create() makes the emails that are due (the beat runs it daily through the task
followups_send, and so does `manage.py send_followups`); letters.sending sends them. Each
letter is asked once: followup_sent_at is set in the same transaction as its email is made.
"""

import logging
from datetime import timedelta

from django.db import transaction
from django.db.models import Max, Q
from django.utils import timezone

from .models import Delivery, Letter, OutgoingMail

logger = logging.getLogger(__name__)

# A letter sent to council: it went to at least one recipient.
_SENT = (Delivery.Status.SENT, Delivery.Status.DELIVERED)


def followups_create(*, now=None) -> int:
    """Make the follow-up email of every letter that asked for one and whose last delivery
    went out at least its campaign's followup_days ago. Returns how many were made."""
    now = now or timezone.now()
    made = 0
    with transaction.atomic():
        candidates = (
            Letter.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(
                followup_consent=True,
                followup_sent_at__isnull=True,
                status=Letter.Status.CONFIRMED,
                is_test=False,
                purged_at__isnull=True,
            )
            .exclude(email="")
            .annotate(last_sent=Max("deliveries__sent_at", filter=_sent_filter()))
            .filter(last_sent__isnull=False)
            .select_related("campaign")
        )
        due = [
            letter
            for letter in candidates
            if letter.last_sent <= now - timedelta(days=letter.campaign.followup_days)
        ]
        OutgoingMail.objects.bulk_create(
            [
                OutgoingMail(
                    kind=OutgoingMail.Kind.FOLLOWUP, letter=letter, campaign=letter.campaign
                )
                for letter in due
            ]
        )
        Letter.objects.filter(pk__in=[letter.pk for letter in due]).update(followup_sent_at=now)
        made = len(due)
    if made:
        logger.info("Made %d follow-up emails", made)
    return made


def _sent_filter() -> Q:
    return Q(deliveries__status__in=_SENT)
