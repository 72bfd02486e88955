"""Every write with a rule or a side effect on a letter: saved, confirmed, queued, held and
released, resent or erased; a test letter; a sender blocked. What happens after sending has
services of its own, built on these: letters.delivery_events (ESP events, bounces by mail, a
blocked council resumed) and letters.replies_and_updates (replies, unsubscribes, updates).

These are the only functions that queue work: each email is an OutgoingMail row, saved in the
caller's transaction, and its task starts after commit (mails_queue, mails_send_after_commit;
letters.sending sends it).
"""

import logging
import time

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from campaigns.models import Campaign
from councils.models import ContactReport, Municipality, Representative, Ward
from councils.selectors import recipients_for
from councils.services import contact_report_create

from . import erasure, near_duplicates, scheduling
from .composition import Sender, compose_letter, single_line
from .forms import FOLLOWUP_LABEL, PUBLICATION_CONSENT_LABEL
from .models import (
    BlockedSender,
    Delivery,
    Letter,
    OutgoingMail,
    PersonalPartBand,
    TokenBucket,
    canonical_email,
)
from .selectors import personal_part_near_duplicate, sender_is_blocked
from .tasks import mails_send as mails_send_task

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


# "Send my letter when you add my council", offered on the letter step when the council has
# nobody to email; stored with each letter that ticks it, like the CASL consent.
HOLD_LABEL = gettext_lazy("Send my letter when you add my council")
HOLD_EXPLANATION = gettext_lazy(
    "%(organization)s will send your letter to the council once its contacts are added, and "
    "email you when it goes out."
)


def consent_explanation(*, campaign: Campaign, language: str) -> str:
    with translation.override(language):
        return str(CONSENT_EXPLANATION) % {"organization": campaign.organization(language)}


def consent_text(*, campaign: Campaign, language: str) -> str:
    """The exact consent wording a resident agreed to: the checkbox label and its explanation."""
    with translation.override(language):
        return f"{CONSENT_LABEL}. {consent_explanation(campaign=campaign, language=language)}"


def followup_consent_text(*, language: str) -> str:
    """The exact wording of "Ask me in two weeks whether council replied", as shown."""
    with translation.override(language):
        return str(FOLLOWUP_LABEL)


def publication_consent_text(*, language: str) -> str:
    """The exact wording of the consent to publication, in the language it was shown in."""
    with translation.override(language):
        return str(PUBLICATION_CONSENT_LABEL)


def hold_explanation(*, campaign: Campaign, language: str) -> str:
    with translation.override(language):
        return str(HOLD_EXPLANATION) % {"organization": campaign.organization(language)}


def hold_consent_text(*, campaign: Campaign, language: str) -> str:
    """The exact wording of "send my letter when you add my council" a resident agreed to."""
    with translation.override(language):
        return f"{HOLD_LABEL}. {hold_explanation(campaign=campaign, language=language)}"


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
    progress stores what was typed in the session (bounded, letters.drafts), and this bounds
    how much one address can make the servers store. Raises RateLimited."""
    per_hour = settings.LETTERS_DRAFT_WRITES_PER_IP
    key = TokenBucket.hash_key("draft", ip)
    if ip and TokenBucket.authorize_many([(key, per_hour, per_hour / 3600)]):
        raise RateLimited("draft")


def contact_report_submit(
    *, representative: Representative, problem: str, details: str, ip: str
) -> ContactReport:
    """File a resident's "Wrong or outdated contact?" report (councils keeps the queue),
    within CONTACT_REPORTS_PER_IP an hour per IP address. Raises RateLimited."""
    per_hour = settings.CONTACT_REPORTS_PER_IP
    key = TokenBucket.hash_key("report", ip)
    if ip and TokenBucket.authorize_many([(key, per_hour, per_hour / 3600)]):
        raise RateLimited("report")
    return contact_report_create(representative=representative, problem=problem, details=details)


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
    publication_consent: bool = False,
    followup_consent: bool = False,
    hold_consent: bool = False,
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

    A council with nobody to email still gets the letter, saved and counted once confirmed;
    hold_consent ("send my letter when you add my council", ignored when someone can be
    emailed) keeps it waiting for the council's contacts (letter_queue, held_letters_release).

    A mailbox that already has a confirmed letter to this council gets a reminder email
    instead (LetterDuplicate is raised; the caller answers as for any letter awaiting
    confirmation, so a stranger who types someone's address learns nothing). Unconfirmed
    letters hold no place: a new letter from the same mailbox is saved beside them, and the
    first to be confirmed withdraws the others.

    Raises SenderBlocked, RateLimited, LetterDuplicate, or ValidationError (campaign not
    accepting letters, recipients not on this council, invalid fields). council: the
    representatives recipients_for() gives for this campaign and council, when the caller has
    just loaded them (letters.pages has); else they are loaded here.
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
            mails_queue([OutgoingMail(kind=OutgoingMail.Kind.REMINDER, letter=existing)])
            raise LetterDuplicate()

    if council is None:
        council = recipients_for(municipality=municipality, ward=ward, **campaign.recipient_rule())
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
    # Offered (and so agreed to) only where the council has nobody to email.
    hold_consent = bool(hold_consent) and not any(rep.can_email for rep in council)

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
    personal_message = (
        "" if campaign.editing_mode == Campaign.EditingMode.LOCKED else personal_message.strip()
    )
    fingerprint = near_duplicates.fingerprint(personal_message)
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
        publication_consent=publication_consent,
        publication_consent_text=(
            publication_consent_text(language=language) if publication_consent else ""
        ),
        publication_consent_at=now if publication_consent else None,
        followup_consent=followup_consent,
        followup_consent_text=followup_consent_text(language=language) if followup_consent else "",
        followup_consent_at=now if followup_consent else None,
        hold_consent=hold_consent,
        hold_consent_text=(
            hold_consent_text(campaign=campaign, language=language) if hold_consent else ""
        ),
        hold_consent_language=language if hold_consent else "",
        hold_consent_at=now if hold_consent else None,
        subject=composed.subject,
        body=composed.body,
        personal_message=personal_message,
        has_personal_part=bool(personal_message),
        # The warning the preview gave, recorded for organizers' figures (never a block).
        personal_near_duplicate=personal_part_near_duplicate(
            fingerprint=fingerprint,
            municipality_id=municipality.pk,
            representative_ids=[rep.pk for rep in chosen],
        ),
        personal_signature=fingerprint.signature if fingerprint else [],
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
            if fingerprint is not None:
                PersonalPartBand.objects.bulk_create(
                    PersonalPartBand(letter=letter, municipality=municipality, key=key)
                    for key in fingerprint.band_keys
                )
            if needs_confirmation:
                mails_queue([OutgoingMail(kind=OutgoingMail.Kind.CONFIRMATION, letter=letter)])
            else:
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
    return letter


def _delivery_for(letter: Letter, rep: Representative) -> Delivery:
    """The delivery of a letter to one representative, in the active language."""
    role = rep.title
    return Delivery(
        letter=letter,
        representative=rep,
        recipient_name=rep.name,
        recipient_role=str(role)[:200],
        recipient_email=rep.email if rep.can_email else "",
        status=Delivery.Status.PENDING_CONFIRMATION if rep.can_email else Delivery.Status.NO_EMAIL,
    )


def mails_queue(mails: list[OutgoingMail]) -> list[OutgoingMail]:
    """Save these emails and start a send task for each once the transaction commits."""
    for mail in mails:
        if mail.campaign_id is None:
            mail.campaign_id = mail.letter.campaign_id
        mail.message_id_assign(from_email=mail.letter.campaign.sender_email)
    saved = OutgoingMail.objects.bulk_create(mails)
    mails_send_after_commit(saved)
    return saved


def mails_send_after_commit(mails: list[OutgoingMail]) -> None:
    """Start one send task for the emails due now, once the transaction commits.

    Never raises for the broker: when it is down the rows wait, and the beat's sweep sends
    them (letters.sending.mails_send_due). Rows due later (send_after) are left to the sweep.
    """
    now = timezone.now()
    due = [
        mail.pk
        for mail in mails
        if mail.status == OutgoingMail.Status.QUEUED and mail.send_after <= now
    ]

    def enqueue():
        try:
            mails_send_task.delay(due)
        except Exception:
            # Eager mode runs the task right here, and records its own failures on the rows;
            # a broker that is down leaves them for the sweep as well.
            logger.warning("Emails %s wait for the sweep", due, exc_info=True)

    if due:
        transaction.on_commit(enqueue)


def letter_queue(*, letter: Letter) -> None:
    """Queue a confirmed letter: its emails to the council, to the clerk when the campaign
    files letters as correspondence and the writer agreed to publication, and the resident's
    copy when they asked for one.

    Recipients without a usable address (none, or one flagged after repeated hard bounces)
    become "no email" so the resident is shown another way to reach them. A campaign that
    sends daily digests leaves the others queued for the day's digest (letters.bundles).

    A letter that should wait (Letter.hold_reason_for: its council has nobody to email and
    its writer asked to have it sent later, or the council's election passed since its roster
    was checked) is held instead: nothing goes to the council, and its writer gets a notice
    (with the letter when they asked for a copy) in place of the copy. Released, it comes
    back here (letter_release), and its writer is told that it went out.
    """
    campaign = letter.campaign
    with transaction.atomic():
        deliveries = list(
            letter.deliveries.select_for_update(of=("self",))
            .select_related("representative")
            .filter(status=Delivery.Status.PENDING_CONFIRMATION)
            .order_by("pk")
        )
        reachable = [
            delivery
            for delivery in deliveries
            if delivery.recipient_email
            and not (delivery.representative and delivery.representative.email_flagged)
        ]
        Delivery.objects.filter(pk__in=[d.pk for d in deliveries if d not in reachable]).update(
            status=Delivery.Status.NO_EMAIL
        )
        if letter.held_since is None:
            reason = letter.hold_reason_for(emailable=bool(reachable))
            if reason:
                _letter_hold(letter, reason=reason)
                return
        if letter.is_test:
            council_mails_queue(kind=OutgoingMail.Kind.TEST, letter=letter, groups=[reachable])
        elif campaign.schedule == Campaign.Schedule.DAILY_DIGEST:
            Delivery.objects.filter(pk__in=[d.pk for d in reachable]).update(
                status=Delivery.Status.QUEUED
            )
        elif campaign.send_mode == Campaign.SendMode.TOGETHER:
            council_mails_queue(kind=OutgoingMail.Kind.LETTER, letter=letter, groups=[reachable])
        else:
            council_mails_queue(
                kind=OutgoingMail.Kind.LETTER, letter=letter, groups=[[d] for d in reachable]
            )
        if letter.goes_to_clerk():
            _clerk_delivery_queue(letter=letter)
        if letter.released_at and letter.email:
            mails_queue([OutgoingMail(kind=OutgoingMail.Kind.RELEASED, letter=letter)])
        elif letter.send_copy and letter.email and not letter.is_test:
            mails_queue([OutgoingMail(kind=OutgoingMail.Kind.COPY, letter=letter)])


def council_mails_queue(
    *, kind: str, letter: Letter, groups: list[list[Delivery]]
) -> list[OutgoingMail]:
    """Emails to a council for these groups of a letter's deliveries (letters.scheduling),
    their sending started after commit when they are due now."""
    mails = scheduling.council_mails_create(
        kind=kind, campaign=letter.campaign, letter=letter, groups=groups
    )
    mails_send_after_commit(mails)
    return mails


def _clerk_delivery_queue(*, letter: Letter) -> None:
    """The letter as correspondence for council, to the municipality's clerk: on its own, or
    left queued for the day's bundle (letters.bundles)."""
    municipality = letter.municipality
    with translation.override(letter.language):
        name = _("Clerk, %(council)s") % {
            "council": municipality.organization_name or municipality.display_name(letter.language)
        }
    delivery = Delivery.objects.create(
        letter=letter,
        to_clerk=True,
        recipient_name=name[:200],
        recipient_role=str(_("Clerk"))[:200],
        recipient_email=municipality.clerk_email,
        status=Delivery.Status.QUEUED,
    )
    delivery.letter = letter
    if letter.campaign.clerk_mode == Campaign.ClerkMode.EACH:
        council_mails_queue(kind=OutgoingMail.Kind.CLERK, letter=letter, groups=[[delivery]])


# A held letter's deliveries that never left: replaced by the council's recipients at release.
_UNSENT = (Delivery.Status.PENDING_CONFIRMATION, Delivery.Status.NO_EMAIL)


def _letter_hold(letter: Letter, *, reason: str) -> None:
    """Hold a confirmed letter (in letter_queue's transaction) and tell its writer."""
    letter.hold(reason, now=timezone.now())
    letter.save(update_fields=["held_since", "hold_reason", "held_for_election"])
    if reason == Letter.HoldReason.ELECTION:
        # Addressed to members who may have lost their seats: the new council's deliveries
        # are made when the letter is released.
        letter.deliveries.filter(status__in=_UNSENT).delete()
    if letter.email:
        mails_queue([OutgoingMail(kind=OutgoingMail.Kind.HELD, letter=letter)])


def letter_release(
    *, letter: Letter, council: list[Representative] | None = None, now=None
) -> bool:
    """Send a held letter to its council as the directory has it now: a delivery for each of
    the campaign's recipients there (the writer's choice of recipients, made among the people
    of the old roster or of none, does not carry over), queued by letter_queue, which also
    tells the writer. The text stays exactly as confirmed: a writer who picked one member of
    an old roster keeps that member's name in the greeting. Returns False, doing nothing,
    when the letter is not ready (Letter.ready_for_release) or no longer held (released
    meanwhile, or erased).

    council: recipients_for() for the letter's campaign, municipality and ward, when the
    caller has loaded them (held_letters_release does, once per council).
    """
    now = now or timezone.now()
    with transaction.atomic():
        letter = (
            Letter.objects.select_for_update(of=("self",))
            .select_related("campaign", "municipality", "ward")
            .get(pk=letter.pk)
        )
        if council is None:
            council = recipients_for(
                municipality=letter.municipality,
                ward=letter.ward,
                **letter.campaign.recipient_rule(),
            )
        emailable = any(rep.can_email for rep in council)
        if not letter.ready_for_release(emailable=emailable, now=now):
            return False
        letter.deliveries.filter(status__in=_UNSENT).delete()
        with translation.override(letter.language):
            Delivery.objects.bulk_create([_delivery_for(letter, rep) for rep in council])
        letter.released_at = now
        letter.save(update_fields=["released_at"])
        letter_queue(letter=letter)
    return True


def held_letters_release(*, now=None) -> int:
    """Send the held letters whose council is ready (Letter.ready_for_release): its roster
    was checked (imported) after the letter was held and has someone to email, and no
    election passed since. The beat runs it every HELD_LETTERS_RELEASE_EVERY seconds
    (letters.jobs); councils never call letters, so the directory's imports do not.

    Council by council, oldest letter first; stops when half the task's time is used (the
    next run goes on). Returns how many letters went out.
    """
    now = now or timezone.now()
    started = time.monotonic()
    budget = settings.CELERY_TASK_SOFT_TIME_LIMIT / 2
    candidates = (
        Letter.objects.held()
        .filter(
            status=Letter.Status.CONFIRMED,
            is_test=False,
            campaign__status=Campaign.Status.LIVE,
            municipality__roster_checked_at__gt=F("held_since"),
        )
        .filter(Q(campaign__closes_at__isnull=True) | Q(campaign__closes_at__gt=now))
    )
    groups = list(
        candidates.order_by().values_list("campaign_id", "municipality_id", "ward_id").distinct()
    )
    campaigns = Campaign.objects.in_bulk({group[0] for group in groups})
    municipalities = Municipality.objects.in_bulk({group[1] for group in groups})
    wards = Ward.objects.in_bulk({group[2] for group in groups if group[2]})
    released = 0
    for campaign_id, municipality_id, ward_id in groups:
        if time.monotonic() - started > budget:
            break
        council = recipients_for(
            municipality=municipalities[municipality_id],
            ward=wards.get(ward_id),
            **campaigns[campaign_id].recipient_rule(),
        )
        if not any(rep.can_email for rep in council):
            continue  # checked, and still nobody to email
        ids = (
            candidates.filter(
                campaign_id=campaign_id, municipality_id=municipality_id, ward_id=ward_id
            )
            .order_by("held_since", "pk")
            .values_list("pk", flat=True)
        )
        for pk in ids:
            if time.monotonic() - started > budget:
                break
            released += letter_release(letter=Letter(pk=pk), council=council, now=now)
    if released:
        logger.info("Released %d held letters", released)
    return released


def deliveries_resend(*, deliveries) -> int:
    """Try failed deliveries again: a new email for them (per letter in "whole council"
    mode), never a copy of one already sent. Only failed rows with an address are touched.
    Returns how many deliveries were queued."""
    with transaction.atomic():
        failed = list(
            Delivery.objects.filter(
                pk__in=[d.pk for d in deliveries], status=Delivery.Status.FAILED
            )
            .exclude(recipient_email="")
            .select_related("letter__campaign")
            .select_for_update(of=("self",))
            .order_by("pk")
        )
        groups: dict = {}
        for delivery in failed:
            letter = delivery.letter
            together = letter.campaign.send_mode == Campaign.SendMode.TOGETHER
            key = (letter.pk, delivery.to_clerk, None if together else delivery.pk)
            groups.setdefault(key, []).append(delivery)
        Delivery.objects.filter(pk__in=[d.pk for d in failed]).update(last_error="", failure="")
        for group in groups.values():
            letter = group[0].letter
            if letter.is_test:
                kind = OutgoingMail.Kind.TEST
            elif group[0].to_clerk:
                kind = OutgoingMail.Kind.CLERK
            else:
                kind = OutgoingMail.Kind.LETTER
            council_mails_queue(kind=kind, letter=letter, groups=[group])
    return len(failed)


def letter_awaits_confirmation(letter: Letter) -> bool:
    """True when the letter still waits for its writer's confirmation; False once it was
    confirmed, replaced, withdrawn or blocked. Raises ConfirmationExpired when its link is
    too old, and CampaignClosed when its campaign no longer takes confirmations."""
    if not letter.awaits_confirmation():
        return False
    if timezone.now() >= letter.confirmation_expires_at:
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
        letter.new_confirmation_link()
        letter.save(update_fields=["confirmation_token", "confirmation_sent_at"])
        mails_queue([OutgoingMail(kind=OutgoingMail.Kind.CONFIRMATION, letter=letter)])
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
        mails_queue([OutgoingMail(kind=OutgoingMail.Kind.REMINDER, letter=confirmed)])
        return
    pending = letters.filter(status=Letter.Status.PENDING_CONFIRMATION).order_by("-pk").first()
    if pending is None:
        return
    with transaction.atomic():
        pending = Letter.objects.select_for_update().get(pk=pending.pk)
        if timezone.now() >= pending.confirmation_expires_at:
            pending.new_confirmation_link()
            pending.save(update_fields=["confirmation_token", "confirmation_sent_at"])
        mails_queue([OutgoingMail(kind=OutgoingMail.Kind.CONFIRMATION, letter=pending)])


# The test letter's stand-in for the resident's own words (the preview shows it too).
TEST_PERSONAL_MESSAGE = gettext_lazy("[The resident's personal message goes here.]")


def letter_test_preview(
    *, campaign: Campaign, municipality: Municipality, language: str, user
) -> dict:
    """The test letter for a municipality, exactly as letter_test_send sends it: the letter
    a resident there sends to the whole council (everyone with an email address), signed
    with the organizer's name, with a stand-in for the personal message.

    Returns composed (subject and text), addressable and unreachable (the council's
    representatives with and without an email address)."""
    council = recipients_for(municipality=municipality, **campaign.recipient_rule())
    addressable = [rep for rep in council if rep.can_email]
    with translation.override(language):
        composed = compose_letter(
            campaign=campaign,
            municipality=municipality,
            recipients=addressable,
            sender=_test_sender(user),
            language=language,
            personal_message=str(TEST_PERSONAL_MESSAGE),
        )
    return {
        "composed": composed,
        "addressable": addressable,
        "unreachable": [rep for rep in council if not rep.can_email],
    }


def _test_sender(user) -> Sender:
    return Sender(user.first_name or user.get_username(), user.last_name, "")


def letter_test_send(
    *, campaign: Campaign, municipality: Municipality, language: str, user
) -> Letter:
    """Send an organizer the test letter letter_test_preview shows: the same subject,
    greeting and text, in one email to the organizer (its subject marked [TEST] by the email
    template).

    The letter is marked as a test: it is never counted and its email goes to the organizer,
    never to a council. Raises ValidationError when the organizer has no email address or the
    council has nobody to address.
    """
    if not user.email:
        raise ValidationError(_("Add an email address to your account to receive test letters."))
    council = recipients_for(municipality=municipality, **campaign.recipient_rule())
    addressable = [rep for rep in council if rep.can_email]
    if not addressable:
        raise ValidationError(_("This council has nobody with an email address to address."))
    sender = _test_sender(user)
    with translation.override(language):
        personal_message = str(TEST_PERSONAL_MESSAGE)
    return letter_submit(
        campaign=campaign,
        municipality=municipality,
        representative_ids=[rep.pk for rep in addressable],
        first_name=sender.first_name,
        last_name=sender.last_name,
        email=user.email,
        postal_code=sender.postal_code,
        language=language,
        personal_message=personal_message,
        send_copy=False,
        is_test=True,
        council=council,
    )


def letter_delete_request(*, letter: Letter) -> Letter:
    """Delete-my-data: erase the letter's personal data now (letters.erasure) and email its
    writer that it is done, at the address captured before erasing it. Returns the letter.
    Idempotent: an erased letter stays as it is and no second email goes out."""
    with transaction.atomic():
        letter = Letter.objects.select_for_update().select_related("campaign").get(pk=letter.pk)
        if letter.purged_at:
            return letter
        email = letter.email
        erasure.letters_erase([letter.pk], now=timezone.now())
        if email:
            mails_queue(
                [OutgoingMail(kind=OutgoingMail.Kind.ERASED, letter=letter, to_email=email)]
            )
    letter.refresh_from_db()
    return letter


def blocked_sender_create(*, kind: str, value: str, reason: str = "", user=None):
    """Block an email address or IP address from sending letters (idempotent)."""
    value = value.strip().lower() if kind == BlockedSender.Kind.EMAIL else value.strip()
    blocked, _created = BlockedSender.objects.get_or_create(
        kind=kind, value=value, defaults={"reason": reason, "created_by": user}
    )
    return blocked
