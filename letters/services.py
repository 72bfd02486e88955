"""Writes of the resident's journey: saving a letter, confirming it, resending the link."""

import logging
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from campaigns.models import Campaign
from councils.models import Municipality, Representative, Ward
from councils.selectors import recipients_for

from . import emails
from .composition import Sender, compose_letter, single_line
from .delivery import letter_queue
from .dispatch import dispatch_soon
from .models import BlockedSender, Delivery, Letter, TokenBucket, canonical_email
from .selectors import sender_is_blocked

logger = logging.getLogger(__name__)

# The CASL consent wording shown under the "Keep me updated" box; the label and this text are
# stored with each letter, in the language they were shown in.
CONSENT_LABEL = gettext_lazy("Keep me updated about this campaign")
CONSENT_EXPLANATION = gettext_lazy(
    "%(organization)s may email me news about this campaign. I can unsubscribe at any time."
)


class LetterRefused(Exception):
    """Base for reasons a letter is not accepted; the view turns each into a friendly page."""


class SenderBlocked(LetterRefused):
    """The email address or IP address is blocked by organizers."""


class RateLimited(LetterRefused):
    """Too many letters from this IP address or email address lately."""


class LetterDuplicate(LetterRefused):
    """This mailbox already has a confirmed letter to this council in this campaign. Its owner
    was emailed a reminder; the requester must be told nothing more than any other sender."""


class ConfirmationExpired(LetterRefused):
    def __init__(self, letter: Letter):
        super().__init__("expired")
        self.letter = letter


class CampaignClosed(LetterRefused):
    """The letter's campaign closed before it was confirmed (and its grace period is over)."""

    def __init__(self, letter: Letter):
        super().__init__("closed")
        self.letter = letter


def consent_explanation(*, campaign: Campaign, language: str) -> str:
    with translation.override(language):
        return str(CONSENT_EXPLANATION) % {"organization": campaign.sender_name}


def consent_text(*, campaign: Campaign, language: str) -> str:
    """The exact consent wording a resident agreed to: the checkbox label and its explanation."""
    with translation.override(language):
        return f"{CONSENT_LABEL}. {consent_explanation(campaign=campaign, language=language)}"


def rate_limit_check(*, ip: str = "", email: str = "") -> None:
    """Take a token from the IP's and the mailbox's hourly buckets (TokenBucket).

    Raises RateLimited when either is empty (the other still gave its token). Taken before the
    letter is saved and apart from it, so a letter that fails later still used up its tokens.
    Address variants of one mailbox (a +tag, Gmail's dots) share one bucket.
    """
    checks = []
    if ip:
        checks.append(("ip", ip, settings.LETTERS_RATE_LIMIT_PER_IP))
    if email:
        checks.append(("email", canonical_email(email), settings.LETTERS_RATE_LIMIT_PER_EMAIL))
    keys = {kind: TokenBucket.hash_key(kind, value) for kind, value, _per_hour in checks}
    refused = TokenBucket.authorize_many(
        [(keys[kind], per_hour, per_hour / 3600) for kind, _value, per_hour in checks]
    )
    for kind, _value, _per_hour in checks:
        if keys[kind] in refused:
            raise RateLimited(kind)


def draft_write_check(*, ip: str) -> None:
    """Take a token from the IP's hourly bucket of draft writes: each step of a letter in
    progress stores what was typed in the session (bounded, letters.journey), and this bounds
    how much one address can make the servers store. Raises RateLimited."""
    per_hour = settings.LETTERS_DRAFT_WRITES_PER_IP
    key = TokenBucket.hash_key("draft", ip)
    if ip and TokenBucket.authorize_many([(key, per_hour, per_hour / 3600)]):
        raise RateLimited("draft")


def _sender_letters(*, campaign: Campaign, municipality: Municipality, email: str):
    """The letters of one mailbox (any spelling of it) to one council in a campaign."""
    return Letter.objects.filter(
        campaign=campaign,
        municipality=municipality,
        email_canonical=canonical_email(email),
        is_test=False,
    ).exclude(email_canonical="")


def letter_submit(
    *,
    campaign: Campaign,
    municipality: Municipality,
    ward: Ward | None = None,
    representative_ids: list[int],
    first_name: str,
    last_name: str,
    email: str,
    postal_code: str,
    language: str,
    street_address: str = "",
    send_copy: bool = True,
    consent_given: bool = False,
    personal_message: str = "",
    talking_point_ids: list[int] | None = None,
    subject: str = "",
    body: str = "",
    subject_index: int = 0,
    ip: str = "",
    is_test: bool = False,
    council: list[Representative] | None = None,
) -> Letter:
    """Save a letter and one delivery per recipient, then ask for confirmation or queue it.

    The subject and text are rebuilt here from the campaign; subject and body are used only
    when the campaign is fully editable. Representatives without an email address get a
    delivery marked no_email, so the thank-you page can offer other ways to reach them.

    A mailbox that already has a confirmed letter to this council gets a reminder email
    instead (LetterDuplicate is raised; the caller answers as for any letter awaiting
    confirmation, so a stranger who types someone's address learns nothing). Unconfirmed
    letters hold no place: a new letter from the same mailbox is saved beside them, and the
    first to be confirmed withdraws the others.

    Raises SenderBlocked, RateLimited, LetterDuplicate, or ValidationError (campaign not
    accepting letters, recipients not on this council, invalid fields). council: the
    representatives recipients_for() gives for this campaign and council, when the caller has
    just loaded them (the journey has); else they are loaded here.
    """
    email = email.strip()
    first_name, last_name = single_line(first_name), single_line(last_name)
    if sender_is_blocked(email=email, ip=ip):
        raise SenderBlocked()
    if not is_test and not campaign.is_accepting_letters():
        raise ValidationError(_("This campaign is not accepting letters."), code="closed")
    if not is_test:
        rate_limit_check(ip=ip, email=email)
        existing = (
            _sender_letters(campaign=campaign, municipality=municipality, email=email)
            .filter(status=Letter.Status.CONFIRMED)
            .first()
        )
        if existing is not None:
            _enqueue_on_commit("letter_reminder_send", existing.pk)
            raise LetterDuplicate()

    if council is None:
        council = recipients_for(
            municipality=municipality,
            roles=list(campaign.target_roles or []),
            ward=ward,
            mayor_and_ward_only=campaign.recipient_scope == Campaign.RecipientScope.MAYOR_AND_WARD,
        )
    chosen_ids = {int(pk) for pk in representative_ids}
    unknown = chosen_ids - {rep.pk for rep in council}
    if unknown:
        raise ValidationError(
            {"recipients": _("Choose recipients from this council only.")}, code="recipients"
        )
    chosen = [rep for rep in council if rep.pk in chosen_ids and rep.can_email]
    if not chosen and any(rep.can_email for rep in council):
        raise ValidationError(
            {"recipients": _("Choose at least one recipient.")}, code="no_recipients"
        )
    unreachable = [rep for rep in council if not rep.can_email]

    # Prefetched with their citations on the journey (campaign_get_for_viewer).
    points = {point.pk: point for point in campaign.talking_points.all()}
    chosen_points = [points[int(pk)] for pk in talking_point_ids or [] if int(pk) in points]
    with translation.override(language):
        composed = compose_letter(
            campaign=campaign,
            municipality=municipality,
            recipients=chosen,
            sender=Sender(first_name, last_name, postal_code, single_line(street_address)),
            language=language,
            subject_index=subject_index,
            personal_message=personal_message,
            talking_points=chosen_points,
            subject=subject,
            template_part=body,
        )
    now = timezone.now()
    needs_confirmation = campaign.requires_confirmation and not is_test
    letter = Letter(
        campaign=campaign,
        municipality=municipality,
        ward=ward,
        language=language,
        is_test=is_test,
        first_name=first_name,
        last_name=last_name,
        email=email,
        email_canonical=canonical_email(email),
        postal_code=postal_code,
        street_address=single_line(street_address),
        send_copy=send_copy,
        consent_given=consent_given,
        consent_text=consent_text(campaign=campaign, language=language) if consent_given else "",
        consent_language=language if consent_given else "",
        consent_at=now if consent_given else None,
        subject=composed.subject,
        body=composed.body,
        personal_message=(
            "" if campaign.editing_mode == Campaign.EditingMode.LOCKED else personal_message.strip()
        ),
        talking_points=composed.talking_point_ids,
        status=(
            Letter.Status.PENDING_CONFIRMATION if needs_confirmation else Letter.Status.CONFIRMED
        ),
        confirmed_at=None if needs_confirmation else now,
        confirmation_sent_at=now if needs_confirmation else None,
    )
    # The fields only: the campaign, council and ward were just loaded and the tokens are
    # fresh 256-bit random values (checking them again would cost six queries per letter), and
    # the one-letter-per-sender constraint is left to the database (IntegrityError below).
    letter.clean_fields(exclude=["campaign", "municipality", "ward", "token", "confirmation_token"])
    # Copied from the directory's own columns, which have the same sizes and validation
    # (tests/letters/test_services_submit.py checks it): nothing to check again.
    with translation.override(language):
        deliveries = [_delivery_for(letter, rep) for rep in chosen + unreachable]
    try:
        with transaction.atomic():
            letter.save()
            Delivery.objects.bulk_create(deliveries)
            if not needs_confirmation:
                if not is_test:
                    Campaign.objects.filter(pk=campaign.pk).update(
                        letters_count=F("letters_count") + 1
                    )
                letter_queue(letter=letter)
    except IntegrityError as exc:
        # A letter confirmed at once (no confirmation asked) raced another from this mailbox.
        if not needs_confirmation and not is_test:
            raise LetterDuplicate() from exc
        raise
    if needs_confirmation:
        transaction.on_commit(lambda: _confirmation_send(letter.pk))
    return letter


def _delivery_for(letter: Letter, rep: Representative) -> Delivery:
    """The delivery of a letter to one representative, in the active language."""
    role = rep.role_text or rep.get_role_display()
    return Delivery(
        letter=letter,
        representative=rep,
        recipient_name=rep.name,
        recipient_role=str(role)[:200],
        recipient_email=rep.email if rep.can_email else "",
        status=Delivery.Status.PENDING_CONFIRMATION if rep.can_email else Delivery.Status.NO_EMAIL,
    )


def _confirmation_send(letter_id: int) -> None:
    dispatch_soon("letters.tasks.letter_confirmation_send", letter_id)


def _enqueue_on_commit(task_name: str, letter_id: int) -> None:
    """Start a letter's email task once the transaction commits. A broker that is down is
    logged, never raised: the letter is saved, and the resident can ask again."""
    from . import tasks

    def enqueue():
        try:
            getattr(tasks, task_name).delay(letter_id)
        except Exception:
            logger.exception("Could not queue %s for letter %s", task_name, letter_id)

    transaction.on_commit(enqueue)


def letter_reminder_email_send(*, letter_id: int) -> None:
    """Email a resident who already wrote to this council the status of that letter (called
    by the task, when their address was used for another letter). Only to the address on
    file; nothing is sent for an erased letter."""
    letter = Letter.objects.select_related("campaign", "municipality").get(pk=letter_id)
    if not letter.email:
        return
    emails.reminder_message(letter).send()


def letter_confirmation_email_send(*, letter_id: int) -> None:
    """Email the confirmation link of a letter still waiting for it (called by the task).

    Raises whatever the mail backend raises; the task decides about retrying.
    """
    letter = Letter.objects.select_related("campaign", "municipality").get(pk=letter_id)
    if letter.status != Letter.Status.PENDING_CONFIRMATION or letter.confirmation_emailed_at:
        return  # confirmed, withdrawn or blocked meanwhile, or this link already went out
    emails.confirmation_message(letter).send()
    Letter.objects.filter(pk=letter.pk, confirmation_token=letter.confirmation_token).update(
        confirmation_emailed_at=timezone.now()
    )


# A letter waiting for confirmation whose email has not gone out this long after it was saved
# lost its task (Redis flushed, say): confirmations_requeue queues it again, for an hour.
CONFIRMATION_REQUEUE_AFTER = timedelta(minutes=10)
CONFIRMATION_REQUEUE_UNTIL = timedelta(hours=1)


def confirmations_requeue(*, now=None, limit: int = 500) -> int:
    """Queue again the confirmation emails that should have gone out and have not (the beat's
    dispatch sweep runs it every minute). Returns how many were queued."""
    from .tasks import letter_confirmation_send

    now = now or timezone.now()
    ids = list(
        Letter.objects.filter(
            status=Letter.Status.PENDING_CONFIRMATION,
            is_test=False,
            confirmation_emailed_at__isnull=True,
            confirmation_sent_at__gt=now - CONFIRMATION_REQUEUE_UNTIL,
            confirmation_sent_at__lte=now - CONFIRMATION_REQUEUE_AFTER,
        )
        .exclude(email="")
        .order_by("pk")
        .values_list("pk", flat=True)[:limit]
    )
    for letter_id in ids:
        letter_confirmation_send.delay(letter_id)
    if ids:
        logger.warning("Queued %d confirmation emails again (their tasks were lost)", len(ids))
    return len(ids)


def confirmation_expires_at(letter: Letter):
    sent = letter.confirmation_sent_at or letter.created_at
    return sent + timedelta(days=settings.LETTERS_CONFIRMATION_DAYS)


def letter_awaits_confirmation(letter: Letter) -> bool:
    """True when the letter still waits for its writer's confirmation; False once it was
    confirmed, replaced, withdrawn or blocked. Raises ConfirmationExpired when its link is
    too old, and CampaignClosed when its campaign no longer takes confirmations."""
    if letter.confirmed_at or letter.status != Letter.Status.PENDING_CONFIRMATION:
        return False
    if timezone.now() >= confirmation_expires_at(letter):
        raise ConfirmationExpired(letter)
    if not letter.is_test and not letter.campaign.accepts_confirmations():
        raise CampaignClosed(letter)
    return True


def letter_confirm(*, token: str) -> tuple[Letter, bool]:
    """Confirm the letter behind a confirmation token and queue its deliveries.

    Returns (letter, confirmed_now). A second click returns the letter with False, and so does
    a letter whose sender was blocked in the meantime (it is marked blocked, nothing is sent).
    The writer's other unconfirmed letters to this council are withdrawn as replaced. When
    the mailbox already had a confirmed letter there (two links confirmed at once), this one
    is marked replaced and the confirmed one comes back with False.

    Raises Letter.DoesNotExist for an unknown token, ConfirmationExpired when the link is
    older than LETTERS_CONFIRMATION_DAYS, CampaignClosed when the campaign has closed.
    """
    with transaction.atomic():
        letter = (
            Letter.objects.select_for_update()
            .select_related("campaign")
            .get(confirmation_token=token)
        )
        if not letter_awaits_confirmation(letter):
            return letter, False
        if sender_is_blocked(email=letter.email):
            # Blocked while the letter waited: it never goes out.
            letter.status = Letter.Status.BLOCKED
            letter.save(update_fields=["status"])
            return letter, False
        letter.status = Letter.Status.CONFIRMED
        letter.confirmed_at = timezone.now()
        try:
            with transaction.atomic():
                letter.save(update_fields=["status", "confirmed_at"])
        except IntegrityError:
            # one_confirmed_letter_per_sender: this mailbox's letter went out meanwhile.
            Letter.objects.filter(pk=letter.pk).update(status=Letter.Status.REPLACED)
            confirmed = (
                _sender_letters(
                    campaign=letter.campaign, municipality=letter.municipality, email=letter.email
                )
                .filter(status=Letter.Status.CONFIRMED)
                .get()
            )
            return confirmed, False
        if not letter.is_test:
            _sender_letters(
                campaign=letter.campaign, municipality=letter.municipality, email=letter.email
            ).filter(status=Letter.Status.PENDING_CONFIRMATION).exclude(pk=letter.pk).update(
                status=Letter.Status.REPLACED
            )
            Campaign.objects.filter(pk=letter.campaign_id).update(
                letters_count=F("letters_count") + 1
            )
        letter_queue(letter=letter)
    return letter, True


def letter_confirmation_resend(*, letter: Letter) -> Letter:
    """Send a fresh confirmation link to the letter's own address (a new token; the old link
    stops working). For the holder of the old link only: the expired-link page.

    Raises RateLimited when this address asked too often, and does nothing for letters that
    are no longer waiting for confirmation.
    """
    if letter.status != Letter.Status.PENDING_CONFIRMATION:
        return letter
    rate_limit_check(email=letter.email)
    with transaction.atomic():
        letter = Letter.objects.select_for_update().get(pk=letter.pk)
        letter.confirmation_token = Letter._meta.get_field("confirmation_token").default()
        letter.confirmation_sent_at = timezone.now()
        letter.confirmation_emailed_at = None
        letter.save(
            update_fields=["confirmation_token", "confirmation_sent_at", "confirmation_emailed_at"]
        )
        letter_id = letter.pk
        transaction.on_commit(lambda: _confirmation_send(letter_id))
    return letter


def sender_links_resend(*, campaign: Campaign, municipality: Municipality, email: str) -> None:
    """ "Email me my link again", asked by whoever knows an address and a council: email the
    address on file what its owner needs, and tell the requester nothing.

    A confirmed letter: a reminder with its status link. Else the newest unconfirmed one: its
    confirmation link again, the same link while it is valid (so a stranger's request cannot
    kill the link in the owner's inbox), a new one once it expired. No letter: nothing.
    Raises RateLimited when this mailbox asked too often; the limit is taken whether or not
    a letter exists, so it reveals nothing either.
    """
    rate_limit_check(email=email)
    letters = _sender_letters(campaign=campaign, municipality=municipality, email=email)
    confirmed = letters.filter(status=Letter.Status.CONFIRMED).first()
    if confirmed is not None:
        _enqueue_on_commit("letter_reminder_send", confirmed.pk)
        return
    pending = letters.filter(status=Letter.Status.PENDING_CONFIRMATION).order_by("-pk").first()
    if pending is None:
        return
    with transaction.atomic():
        pending = Letter.objects.select_for_update().get(pk=pending.pk)
        now = timezone.now()
        if now >= confirmation_expires_at(pending):
            pending.confirmation_token = Letter._meta.get_field("confirmation_token").default()
            pending.confirmation_sent_at = now
        pending.confirmation_emailed_at = None
        pending.save(
            update_fields=["confirmation_token", "confirmation_sent_at", "confirmation_emailed_at"]
        )
        letter_id = pending.pk
        transaction.on_commit(lambda: _confirmation_send(letter_id))


def letter_test_send(
    *, campaign: Campaign, municipality: Municipality, language: str, user
) -> Letter:
    """Send an organizer a test letter for a municipality, addressed as to its first recipient.

    The letter is marked as a test: it is never counted and its email goes to the organizer,
    never to a council. Raises ValidationError when the organizer has no email address or the
    council has nobody to address.
    """
    if not user.email:
        raise ValidationError(_("Add an email address to your account to receive test letters."))
    council = recipients_for(
        municipality=municipality,
        roles=list(campaign.target_roles or []),
        mayor_and_ward_only=False,
    )
    addressable = [rep for rep in council if rep.can_email]
    if not addressable:
        raise ValidationError(_("This council has nobody with an email address to address."))
    with transaction.atomic():
        letter = letter_submit(
            campaign=campaign,
            municipality=municipality,
            representative_ids=[addressable[0].pk],
            first_name=user.first_name or user.get_username(),
            last_name=user.last_name,
            email=user.email,
            postal_code="",
            language=language,
            send_copy=False,
            is_test=True,
        )
        # Only the first recipient is emailed: a test goes out once, not once per councillor.
        # The subject changes before commit, so the send task already sees it.
        with translation.override(language):
            letter.subject = (_("[TEST] %(subject)s") % {"subject": letter.subject})[:300]
        letter.save(update_fields=["subject"])
    return letter


def blocked_sender_create(*, kind: str, value: str, reason: str = "", user=None):
    """Block an email address or IP address from sending letters (idempotent)."""
    value = value.strip().lower() if kind == BlockedSender.Kind.EMAIL else value.strip()
    blocked, _created = BlockedSender.objects.get_or_create(
        kind=kind, value=value, defaults={"reason": reason, "created_by": user}
    )
    return blocked
