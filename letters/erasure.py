"""Erasing residents' personal data: after the retention period, and on the resident's request.

What an erased letter keeps: campaign, municipality, ward, language, dates, status, talking
points chosen and its deliveries (representatives are public record), so every count stays the
same. What goes: first and last name, email address, street address, the postal code beyond
its first three characters, the personal message, and the letter's subject and body. The body
is the exact text sent, with the sender's name, address and own words woven into it, so it is
erased whole rather than scrubbed; the subject too, since residents may write it themselves.
What the personal message was made of goes with it (its MinHash signature and band keys);
whether the letter had one, and whether it was nearly identical to another, stays.
What the writer reported of a council's reply loses its words (the summary or pasted answer)
and keeps only whether and when the council replied.
Emails not sent yet go with them (their deliveries cancelled). A held letter (waiting for its
council's contacts) is never sent once erased: the release takes only letters whose data is
still there (Letter.objects.held), and its status page says so (Letter.hold_stage).

The resident's own request goes through letters.services.letter_delete_request, which also
emails them that it is done.
"""

import logging

from django.db import transaction
from django.db.models import Q
from django.db.models.functions import Substr
from django.utils import timezone

from campaigns.models import Campaign

from .models import Delivery, Letter, OutboxMessage, OutgoingMail, PersonalPartBand, Reply

logger = logging.getLogger(__name__)

# Deliveries that have not left yet (held too: a council that blocks our mail may be
# resumed later); erasing a letter stops them.
UNSENT_STATUSES = (
    Delivery.Status.PENDING_CONFIRMATION,
    Delivery.Status.QUEUED,
    Delivery.Status.HELD,
)

ERASED_FIELDS = {
    "first_name": "",
    "last_name": "",
    "email": "",
    "email_canonical": "",
    "street_address": "",
    "personal_message": "",
    "subject": "",
    "body": "",
    "personal_signature": [],
}


def letters_erase(letter_ids: list[int], *, now) -> int:
    """Erase the personal data of these letters (ids), cancel their emails not sent yet and
    drop copies of their emails from the local outbox. Runs in the caller's transaction.
    Returns the number of letters erased."""
    rows = list(
        Letter.objects.select_for_update()
        .filter(pk__in=letter_ids, purged_at__isnull=True)
        .values_list("pk", "email")
    )
    if not rows:
        return 0
    ids = [pk for pk, _email in rows]
    emails = {email.lower() for _pk, email in rows if email}
    # A letter still waiting for confirmation must never be sent by its old link.
    Letter.objects.filter(pk__in=ids, status=Letter.Status.PENDING_CONFIRMATION).update(
        status=Letter.Status.WITHDRAWN
    )
    Letter.objects.filter(pk__in=ids).update(
        **ERASED_FIELDS, postal_code=Substr("postal_code", 1, 3), purged_at=now
    )
    PersonalPartBand.objects.filter(letter_id__in=ids).delete()
    Delivery.objects.filter(letter_id__in=ids, status__in=UNSENT_STATUSES).update(
        status=Delivery.Status.CANCELLED, updated_at=now
    )
    OutgoingMail.objects.filter(
        letter_id__in=ids, status__in=[OutgoingMail.Status.QUEUED, OutgoingMail.Status.HELD]
    ).update(status=OutgoingMail.Status.CANCELLED, updated_at=now)
    # What the writer reported of the council's reply: its words go; whether and when the
    # council replied stays, anonymous, so responsiveness counts do not change.
    Reply.objects.filter(delivery__letter_id__in=ids).update(summary="", may_publish=False)
    _outbox_forget(emails)
    return len(ids)


def _outbox_forget(emails: set[str]) -> None:
    """The embedded default keeps sent mail in OutboxMessage: forget what names these
    addresses (copies, confirmations, letters with them as Reply-To)."""
    if not emails:
        return
    query = Q()
    for email in emails:
        query |= Q(to__icontains=email) | Q(reply_to__icontains=email)
    OutboxMessage.objects.filter(query).delete()


def personal_data_purge(*, now=None, batch_size: int = 500) -> int:
    """Erase the personal data of every letter past its campaign's retention period.

    A letter is due when Campaign.personal_data_erased_at says (retention_days after the
    later of its creation and its campaign's closes_at), the rule the privacy page states.
    Test letters follow the same rule. Returns the number of letters erased.
    """
    now = now or timezone.now()
    total = 0
    for campaign in Campaign.objects.only("pk", "closes_at", "retention_days"):
        cutoff = campaign.letters_due_for_erasure_before(now)
        if cutoff is None:
            continue
        due = Letter.objects.filter(
            campaign_id=campaign.pk, purged_at__isnull=True, created_at__lte=cutoff
        ).values_list("pk", flat=True)
        while True:
            ids = list(due[:batch_size])
            if not ids:
                break
            with transaction.atomic():
                total += letters_erase(ids, now=now)
    if total:
        logger.info("Erased the personal data of %s letters", total)
    return total


def sessions_purge_expired(*, now=None) -> int:
    """Delete the expired sessions (both session engines in use keep them in the database).

    An unfinished letter (name, address, message) lives in its writer's session; Django
    leaves an expired session's row in place until something deletes it, and the privacy
    page promises it is gone after SESSION_COOKIE_AGE. Returns how many were deleted.
    """
    from django.contrib.sessions.models import Session

    deleted, _by_model = Session.objects.filter(expire_date__lt=now or timezone.now()).delete()
    return deleted
