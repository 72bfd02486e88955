"""What happened to emails after they left, recorded: the ESP's tracking events (webhooks),
bounces that come back by mail (VERP, `manage.py process_bounces`), and the mail of a council
whose server blocked ours, resumed by an organizer. Services: they write, and queue work only
after commit.
"""

import logging
from enum import StrEnum

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from councils.models import Municipality, Representative

from . import bounces, scheduling
from .models import Delivery, OutgoingMail
from .sending import (
    NOT_THE_ADDRESS,
    council_block,
    council_of,
    event_failure_kind,
    failure_kind,
    reply_code,
)
from .services import mails_send_after_commit

logger = logging.getLogger(__name__)


# --- ESP tracking (webhooks) -------------------------------------------------------------------

# How far along each status is: a webhook moves a delivery forward only (events can arrive out
# of order, and an ESP may repeat one).
_RANK = {
    Delivery.Status.QUEUED: 0,
    Delivery.Status.SENDING: 0,
    Delivery.Status.SENT: 1,
    Delivery.Status.DELIVERED: 2,
    Delivery.Status.FAILED: 3,
    Delivery.Status.BOUNCED: 3,
    Delivery.Status.COMPLAINED: 4,
}
_EVENT_STATUS = {
    "delivered": Delivery.Status.DELIVERED,
    "bounced": Delivery.Status.BOUNCED,
    "complained": Delivery.Status.COMPLAINED,
    "rejected": Delivery.Status.FAILED,
    "failed": Delivery.Status.FAILED,
}


def delivery_track(
    *,
    event_type: str,
    message_id: str,
    recipient: str,
    timestamp=None,
    description: str = "",
    mta_response: str = "",
    reject_reason: str = "",
    esp_name: str = "",
) -> list[int]:
    """Apply an ESP tracking event to the deliveries it names. Returns their ids.

    A failure gets its kind (Delivery.Failure) from anymail's normalized event: its reject
    reason, or the receiving server's reply (letters.sending.event_failure_kind). A hard
    bounce counts against the representative's address, as a permanent SMTP refusal does
    (letters.sending); after Representative.BOUNCE_LIMIT of them the directory flags it and
    later letters skip it. A policy block and a full mailbox are not the address's fault and
    do not count; a policy block on an email to a council blocks that council, whose queued
    emails are held. A delivery counts once however often the ESP repeats the event. Other
    events (opened, clicked, deferred, ...) are ignored: no tracking of councillors' reading.
    """
    status = _EVENT_STATUS.get(event_type)
    if status is None or not message_id:
        return []
    now = timezone.now()
    with transaction.atomic():
        rows = Delivery.objects.select_for_update(of=("self",)).filter(
            Q(esp_message_id=message_id) | Q(mail__message_id=message_id)
        )
        if recipient:
            rows = rows.filter(recipient_email__iexact=recipient)
        if status != Delivery.Status.DELIVERED:
            reply = " ".join(part for part in (mta_response, description) if part)
            details = "; ".join(part for part in (description, mta_response) if part)
            return _deliveries_failure_record(
                deliveries=list(rows.select_related("mail__letter__municipality")),
                status=status,
                failure=event_failure_kind(
                    event_type=event_type, reject_reason=reject_reason, reply=reply
                ),
                note=f"{esp_name} {event_type}: {details}".strip().rstrip(":"),
            )
        changed = []
        for delivery in rows:
            if _RANK.get(delivery.status, 99) >= _RANK[status]:
                continue
            Delivery.objects.filter(pk=delivery.pk).update(
                status=status, delivered_at=timestamp or now, updated_at=now
            )
            changed.append(delivery.pk)
            Representative.objects.filter(pk=delivery.representative_id).delivery_recorded()
    return changed


def council_mail_resume(*, municipality: Municipality) -> int:
    """An organizer resumes sending to a council whose mail server blocked ours (once its IT
    let our mail through, say): the block is lifted and its held emails go out again, each in
    a new paced slot. Returns how many emails were released."""
    with transaction.atomic():
        Municipality.objects.filter(pk=municipality.pk).update(
            mail_blocked_at=None, mail_block_reason=""
        )
        municipality.refresh_from_db()
        held = list(
            OutgoingMail.objects.to_council(municipality)
            .filter(status=OutgoingMail.Status.HELD)
            .select_related("campaign")
            .order_by("created_at", "pk")
        )
        for mail in held:
            deliveries = list(mail.deliveries.filter(status=Delivery.Status.HELD))
            mail.status = OutgoingMail.Status.QUEUED
            [mail.send_after] = scheduling.slots_take(
                [[d.recipient_email for d in deliveries]],
                office_hours_of=municipality if mail.campaign.office_hours_only else None,
            )
            mail.save(update_fields=["status", "send_after", "updated_at"])
            Delivery.objects.filter(pk__in=[d.pk for d in deliveries]).update(
                status=Delivery.Status.QUEUED
            )
        mails_send_after_commit(held)
    return len(held)


def _deliveries_failure_record(
    *, deliveries: list[Delivery], status: str, failure: str, note: str
) -> list[int]:
    """Record what became of emails after they left (an ESP's event, a bounce by mail) on
    these deliveries, forward only: a repeated or late report changes nothing. Returns the
    ids of the deliveries it changed.

    A bounce counts once per representative (a digest carries several letters) against
    their address, unless the failure is a policy block or a full mailbox. A policy block
    on an email to a council blocks that council (letters.sending.council_block): its queued
    emails are held until an organizer resumes them.
    """
    now = timezone.now()
    changed = [d for d in deliveries if _RANK.get(d.status, 99) < _RANK[status]]
    if not changed:
        return []
    with transaction.atomic():
        Delivery.objects.filter(pk__in=[d.pk for d in changed]).update(
            status=status, failure=failure, last_error=note, updated_at=now
        )
        if status == Delivery.Status.BOUNCED and failure not in NOT_THE_ADDRESS:
            representatives = {d.representative_id for d in changed if d.representative_id}
            Representative.objects.filter(pk__in=representatives).bounce_recorded()
        if failure == Delivery.Failure.POLICY_BLOCK:
            councils = {}
            for delivery in changed:
                council = council_of(delivery.mail) if delivery.mail_id else None
                if council is not None:
                    councils[council.pk] = (council, delivery.mail.campaign)
            for council, campaign in councils.values():
                mails_send_after_commit(council_block(council, note, campaign=campaign))
    return [d.pk for d in changed]


# --- Bounces by mail ---------------------------------------------------------------------------


class BounceOutcome(StrEnum):
    """What became of one bounce message (bounce_process)."""

    BOUNCED = "bounced"  # the deliveries it names are marked bounced (once)
    DELAYED = "delayed"  # only delays or failures for now (4.x.x): logged, nothing changed
    NOT_A_BOUNCE = "not a bounce"  # an autoreply, a person's answer: ignored
    NOT_OURS = "not ours"  # not sent to a return path of ours (forged), or its email is gone
    UNMATCHED = "unmatched"  # ours, but it names none of the email's recipients


def bounce_process(*, data: bytes, recipient: str = "") -> BounceOutcome:
    """Record a bounce message that arrived by mail (manage.py process_bounces).

    The email it is about is the one whose VERP return path it was sent to (recipient: the
    envelope recipient, when the MTA passes it; else its headers). Each recipient it reports
    as failed for good (5.x.x) is marked bounced with the failure's kind and the server's
    diagnostic, as an ESP's bounce event is (a hard bounce counts against the address, a
    policy block blocks the council). Delays change nothing. Raises DatabaseError only.
    """
    message = bounces.message_parse(data)
    mail = _bounced_mail(message, recipient=recipient)
    if mail is None:
        return BounceOutcome.NOT_OURS
    reports = bounces.recipient_reports(message)
    if not reports:
        logger.info("Email %s: a message to its return path that is not a bounce", mail.pk)
        return BounceOutcome.NOT_A_BOUNCE
    permanent = [report for report in reports if report.permanent]
    for report in reports:
        if not report.permanent:
            logger.info(
                "Email %s to %s delayed: %s %s",
                mail.pk,
                report.address,
                report.status,
                report.diagnostic,
            )
    if not permanent:
        return BounceOutcome.DELAYED
    if not _bounce_record(mail, permanent):
        logger.warning(
            "Email %s: the bounce names none of its recipients (%s)",
            mail.pk,
            ", ".join(report.address for report in permanent),
        )
        return BounceOutcome.UNMATCHED
    return BounceOutcome.BOUNCED


def _bounced_mail(message, *, recipient: str) -> OutgoingMail | None:
    """The email whose signed return path the bounce was sent to, or None (logged)."""
    mail_id = bounces.bounced_mail_id(message, recipient=recipient)
    mails = OutgoingMail.objects.select_related("letter__municipality")
    mail = mails.filter(pk=mail_id).first() if mail_id is not None else None
    if mail is None:
        logger.info(
            "Ignored a message to %s: not a return path of an email of ours",
            recipient or message.get("To", "no address"),
        )
    return mail


def _bounce_record(mail: OutgoingMail, reports: list[bounces.RecipientReport]) -> list[int]:
    """Mark the deliveries of this email that the bounce reports failed for good as bounced,
    each with its failure's kind and diagnostic. An email to one recipient is that
    recipient's, whatever address the bounce names (a forward of the council's may have
    failed). Returns the ids of the deliveries named."""
    with transaction.atomic():
        deliveries = list(mail.deliveries.select_for_update(of=("self",)).order_by("pk"))
        by_address = {}
        for delivery in deliveries:
            by_address.setdefault(delivery.recipient_email.lower(), []).append(delivery)
        matched = [(report, by_address.get(report.address, [])) for report in reports]
        if len(deliveries) == 1 and len(reports) == 1 and not matched[0][1]:
            matched = [(reports[0], deliveries)]
        named = []
        for report, found in matched:
            if not found:
                continue
            reply = f"{report.status} {report.diagnostic}".strip()
            _deliveries_failure_record(
                deliveries=found,
                status=Delivery.Status.BOUNCED,
                failure=failure_kind(reply_code(report.diagnostic), reply),
                note=f"Bounced ({report.status or 'no status'}): {report.diagnostic}".rstrip(": "),
            )
            named += [delivery.pk for delivery in found]
    return named
