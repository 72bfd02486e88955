"""What comes after a letter is sent, as services: a writer's answers to "Did council
reply?" (/letters/<token>/reply/), an unsubscribe from campaign updates, and an organizer's
campaign update to the writers who asked for news.
"""

from django.db import transaction
from django.utils import timezone

from .models import CampaignUpdate, Delivery, Letter, OutgoingMail, Reply
from .selectors import update_recipients
from .services import mails_queue


def replies_record(*, letter: Letter, answers: dict[int, dict]) -> int:
    """Record what a writer reports about each recipient of their letter (answers: delivery
    id → outcome, replied_on, summary, may_publish), replacing an earlier answer. Only the
    letter's own deliveries that went out count, and nothing of a test letter (never
    counted). Returns how many were recorded."""
    if letter.is_test:
        return 0
    deliveries = {
        delivery.pk: delivery
        for delivery in letter.deliveries.filter(
            status__in=[Delivery.Status.SENT, Delivery.Status.DELIVERED], to_clerk=False
        ).select_related("letter")
    }
    recorded = 0
    with transaction.atomic():
        for delivery_id, answer in answers.items():
            if delivery_id not in deliveries:
                continue
            no_reply = answer["outcome"] == Reply.Outcome.NO_REPLY
            reply = (
                Reply.objects.select_for_update().filter(delivery_id=delivery_id).first() or Reply()
            )
            reply.copy_from(deliveries[delivery_id])
            reply.outcome = answer["outcome"]
            reply.replied_on = None if no_reply else answer.get("replied_on")
            reply.summary = "" if no_reply else answer.get("summary", "").strip()
            reply.may_publish = bool(answer.get("may_publish")) and not no_reply
            reply.full_clean(validate_unique=False)
            reply.save()
            recorded += 1
    return recorded


def letter_unsubscribe(*, letter: Letter) -> None:
    """Stop a campaign's updates to this writer, at once (queued ones are not sent), and
    record when. Idempotent."""
    with transaction.atomic():
        Letter.objects.filter(pk=letter.pk, unsubscribed_at__isnull=True).update(
            unsubscribed_at=timezone.now()
        )
        OutgoingMail.objects.filter(
            letter=letter, kind=OutgoingMail.Kind.UPDATE, status=OutgoingMail.Status.QUEUED
        ).update(status=OutgoingMail.Status.CANCELLED)


class UpdateAlreadySent(Exception):
    """This campaign update went out before: it is sent once."""


def campaign_update_send(*, update: CampaignUpdate) -> int:
    """Send a campaign update once, to the writers who ticked "Keep me updated" and to no one
    else (letters.selectors.update_recipients): one email per mailbox however many councils
    it wrote to, through the outgoing mail, each with its unsubscribe link. Returns how many
    were queued.

    Raises UpdateAlreadySent when it went out before (the row is locked first, so two
    organizers pressing Send at once send it once)."""
    with transaction.atomic():
        update = CampaignUpdate.objects.select_for_update().get(pk=update.pk)
        if update.sent_at:
            raise UpdateAlreadySent
        letters = update_recipients(campaign_id=update.campaign_id).order_by(
            "email_canonical", "-confirmed_at"
        )
        seen, chosen = set(), []
        for letter in letters:
            if letter.email_canonical in seen:
                continue
            seen.add(letter.email_canonical)
            chosen.append(letter)
        mails_queue(
            [
                OutgoingMail(
                    kind=OutgoingMail.Kind.UPDATE,
                    letter=letter,
                    campaign_id=update.campaign_id,
                    update=update,
                )
                for letter in chosen
            ]
        )
        update.sent_at = timezone.now()
        update.recipients = len(chosen)
        update.save(update_fields=["sent_at", "recipients"])
    return len(chosen)
