"""The one place where outgoing messages are built.

Each message comes from three templates: emails/<name>-subject.txt, -body.txt and -body.html.
"""

import hashlib
import hmac
from email.utils import parseaddr

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.core.mail.message import make_msgid
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _

from campaigns.models import Campaign

from .models import Delivery, Letter, OutgoingMail


def make_message(
    *,
    template: str,
    context: dict,
    to: list[str],
    language: str,
    from_email: str | None = None,
    reply_to: list[str] | None = None,
    headers: dict[str, str] | None = None,
    message_id: str | None = None,
) -> EmailMultiAlternatives:
    """Render a message in the given language, text plus an HTML alternative.

    Subjects are collapsed to one line, so no line break from user input reaches a header.
    Pass message_id to keep one Message-ID across attempts (a resend is then recognisable).
    """
    with translation.override(language):
        subject = render_to_string(f"emails/{template}-subject.txt", context)
        text = render_to_string(f"emails/{template}-body.txt", context)
        html = render_to_string(f"emails/{template}-body.html", context)
    subject = " ".join(subject.split())
    message = EmailMultiAlternatives(
        subject=subject,
        body=text,
        from_email=from_email or settings.DEFAULT_FROM_EMAIL,
        to=to,
        reply_to=reply_to,
        headers={
            "Message-ID": message_id or make_msgid(domain=_domain(from_email)),
            "Content-Language": language,
            **(headers or {}),
        },
    )
    message.attach_alternative(html, "text/html")
    return message


def _domain(address: str | None) -> str | None:
    _name, email = parseaddr(address or settings.DEFAULT_FROM_EMAIL)
    return email.rpartition("@")[2] or None


def message_for(mail: OutgoingMail) -> EmailMultiAlternatives:
    """The email an OutgoingMail row stands for, built now from the rows it belongs to, with
    the row's stable Message-ID (letters.sending)."""
    builders = {
        OutgoingMail.Kind.LETTER: letter_message,
        OutgoingMail.Kind.DIGEST: digest_message,
        OutgoingMail.Kind.CLERK: clerk_message,
        OutgoingMail.Kind.TEST: letter_message,
        OutgoingMail.Kind.COPY: letter_copy_message,
        OutgoingMail.Kind.CONFIRMATION: confirmation_message,
        OutgoingMail.Kind.REMINDER: reminder_message,
        OutgoingMail.Kind.ERASED: data_erased_message,
        OutgoingMail.Kind.HELD: letter_held_message,
        OutgoingMail.Kind.FOLLOWUP: followup_message,
        OutgoingMail.Kind.UPDATE: update_message,
        OutgoingMail.Kind.RELEASED: letter_released_message,
        OutgoingMail.Kind.BLOCKED: council_blocked_message,
    }
    message = builders[mail.kind](mail)
    if settings.BOUNCE_ADDRESS and mail.kind in COUNCIL_KINDS:
        # anymail reads envelope_sender; letters.mail_backends.SMTPBackend uses it for MAIL FROM.
        message.envelope_sender = bounce_address(mail)
    return message


COUNCIL_KINDS = (OutgoingMail.Kind.LETTER, OutgoingMail.Kind.DIGEST, OutgoingMail.Kind.CLERK)


def _bounce_signature(mail_id: int) -> str:
    return hmac.new(
        settings.SECRET_KEY.encode(), f"bounce:{mail_id}".encode(), hashlib.sha256
    ).hexdigest()[:10]


def bounce_address(mail: OutgoingMail) -> str:
    """The email's own return path, VERP style: bounces+<id>.<signature>@domain from
    BOUNCE_ADDRESS, so a bounce that arrives by mail names the email it is about."""
    local, _at, domain = settings.BOUNCE_ADDRESS.rpartition("@")
    return f"{local}+{mail.pk}.{_bounce_signature(mail.pk)}@{domain}"


def bounce_mail_id(address: str) -> int | None:
    """The email a return path (bounce_address) names, or None for any other address or a
    forged signature."""
    local = (address or "").strip().strip("<>").rpartition("@")[0]
    tag = local.partition("+")[2]
    mail_id, _dot, signature = tag.partition(".")
    if not mail_id.isdigit() or not hmac.compare_digest(signature, _bounce_signature(int(mail_id))):
        return None
    return int(mail_id)


def confirmation_message(mail: OutgoingMail) -> EmailMultiAlternatives:
    """The email asking a resident to confirm their letter (see letters.services).

    It carries nothing the writer typed, not even their name: anyone can type any address,
    and this email must not carry a stranger's words to it. The letter itself is shown on the
    page the link opens.
    """
    letter = mail.letter
    campaign = letter.campaign
    with translation.override(letter.language):
        path = reverse("letters:confirm", kwargs={"token": letter.confirmation_token})
    return make_message(
        template="letter_confirm",
        context={
            "campaign": campaign,
            "language": letter.language,
            "organization": campaign.organization(letter.language),
            "confirm_url": settings.SITE_URL + path,
            "municipality_name": letter.municipality.display_name(letter.language),
            "days": settings.LETTERS_CONFIRMATION_DAYS,
        },
        to=[letter.email],
        language=letter.language,
        from_email=campaign_from(campaign, letter.language),
        message_id=mail.message_id,
    )


def reminder_message(mail: OutgoingMail) -> EmailMultiAlternatives:
    """Tell the writer of a letter already sent that their address was used again, with the
    link to their letter's status page. Like the confirmation, nothing the requester typed."""
    letter = mail.letter
    campaign = letter.campaign
    return make_message(
        template="letter_reminder",
        context={
            "campaign": campaign,
            "language": letter.language,
            "organization": campaign.organization(letter.language),
            "status_url": settings.SITE_URL + letter_path(letter, ""),
            "municipality_name": letter.municipality.display_name(letter.language),
        },
        to=[letter.email],
        language=letter.language,
        from_email=campaign_from(campaign, letter.language),
        message_id=mail.message_id,
    )


def letter_from_name(*, sender: str, campaign: Campaign, language: str) -> str:
    """A letter's From name: "Jane Doe via <the campaign's organization>"."""
    with translation.override(language):
        return _("%(sender)s via %(organization)s") % {
            "sender": sender,
            "organization": campaign.organization(language),
        }


def campaign_from(campaign: Campaign, language: str) -> str:
    """The From of the campaign's own emails (confirmation, copy, reminder, erasure notice):
    its organization, in the email's language, at the campaign's address."""
    return address(campaign.organization(language), campaign.sender_email)


def _letter_from(letter: Letter) -> str:
    """From: "First Last via <organization>" at the campaign's own address (DMARC aligns)."""
    name = letter_from_name(
        sender=letter.sender_name, campaign=letter.campaign, language=letter.language
    )
    return address(name, letter.campaign.sender_email)


def address(name: str, email: str) -> str:
    """'"Name" <email>' with the name on one line and quoted; Django encodes non-ASCII names."""
    name = " ".join((name or "").split()).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{name}" <{email}>' if name else email


def letter_message(mail: OutgoingMail) -> EmailMultiAlternatives:
    """The letter to its recipients (the row's deliveries being sent): one representative,
    or in "whole council" mode all of them on one message (To every recipient, so reply-all
    reaches everyone).

    Reply-To is the resident. A test letter goes to the organizer who wrote it, never to a
    council.
    """
    letter = mail.letter
    deliveries = mail.deliveries_sending()
    to = [address(d.recipient_name, d.recipient_email) for d in deliveries]
    if mail.kind == OutgoingMail.Kind.TEST or letter.is_test:
        to = [letter.email]
    return make_message(
        template="letter",
        context={
            "letter": letter,
            "deliveries": deliveries,
            "municipality": letter.municipality.display_name(letter.language),
            "organization": letter.campaign.organization(letter.language),
        },
        to=to,
        language=letter.language,
        from_email=_letter_from(letter),
        reply_to=[address(letter.sender_name, letter.email)],
        message_id=mail.message_id,
    )


def letter_copy_message(mail: OutgoingMail) -> EmailMultiAlternatives:
    """The resident's own copy: the letter, who it went to, and links to the status page and
    to delete their data."""
    return _to_resident(mail, "letter_copy")


def letter_held_message(mail: OutgoingMail) -> EmailMultiAlternatives:
    """Tell a resident their confirmed letter waits (letters.services.letter_queue): for its
    council's contacts, or for the new council after an election; with the letter itself when
    they asked for a copy, and the council's website when the directory knows it."""
    return _to_resident(mail, "letter_held")


def letter_released_message(mail: OutgoingMail) -> EmailMultiAlternatives:
    """Tell a resident their held letter went out at last, and to whom."""
    return _to_resident(mail, "letter_released")


def _to_resident(mail: OutgoingMail, template: str) -> EmailMultiAlternatives:
    """An email to a letter's writer about their letter: the letter, who it goes to, and
    links to the status page and to delete their data."""
    letter = mail.letter
    campaign = letter.campaign
    deliveries = list(letter.deliveries.all())
    return make_message(
        template=template,
        context={
            "letter": letter,
            "deliveries": deliveries,
            "emailed": [d for d in deliveries if d.status != Delivery.Status.NO_EMAIL],
            "municipality_name": letter.municipality.display_name(letter.language),
            "website": letter.municipality.website,
            "organization": campaign.organization(letter.language),
            "status_url": settings.SITE_URL + letter_path(letter, ""),
            "delete_url": settings.SITE_URL + letter_path(letter, "delete/"),
        },
        to=[address(letter.sender_name, letter.email)],
        language=letter.language,
        from_email=campaign_from(campaign, letter.language),
        message_id=mail.message_id,
    )


def _council_name(municipality, language: str) -> str:
    return municipality.organization_name or municipality.display_name(language)


def digest_message(mail: OutgoingMail) -> EmailMultiAlternatives:
    """A councillor's daily digest: how many residents wrote (and how many from their ward),
    then every letter in full with its writer's name, first three characters of their postal
    code and address for a reply. Reply-To cannot carry them all, so each is listed."""
    deliveries = list(
        mail.deliveries.filter(status=Delivery.Status.SENDING)
        .select_related("letter__municipality", "letter__ward", "representative__ward")
        .order_by("letter__confirmed_at", "pk")
    )
    campaign = mail.campaign
    language = campaign.default_language
    letters = [delivery.letter for delivery in deliveries]
    first = deliveries[0]
    rep_ward = first.representative.ward if first.representative else None
    municipality = letters[0].municipality
    return make_message(
        template="digest",
        context={
            "campaign": campaign,
            "language": language,
            "letters": letters,
            "recipient_name": first.recipient_name,
            "municipality": municipality.display_name(language),
            "in_ward": sum(1 for letter in letters if rep_ward and letter.ward_id == rep_ward.pk),
            "organization": campaign.organization(language),
        },
        to=[address(first.recipient_name, first.recipient_email)],
        language=language,
        from_email=campaign_from(campaign, language),
        message_id=mail.message_id,
    )


def clerk_message(mail: OutgoingMail) -> EmailMultiAlternatives:
    """Letters filed with the municipality's clerk as correspondence for a council meeting
    (their writers agreed to publication): one letter (Reply-To its writer), or the day's
    bundle."""
    deliveries = list(
        mail.deliveries.filter(status=Delivery.Status.SENDING)
        .select_related("letter__municipality")
        .order_by("letter__confirmed_at", "pk")
    )
    campaign = mail.campaign
    letters = [delivery.letter for delivery in deliveries]
    language = letters[0].language if len(letters) == 1 else campaign.default_language
    reply_to = [address(letters[0].sender_name, letters[0].email)] if len(letters) == 1 else None
    from_email = (
        _letter_from(letters[0]) if len(letters) == 1 else campaign_from(campaign, language)
    )
    return make_message(
        template="clerk",
        context={
            "campaign": campaign,
            "language": language,
            "letters": letters,
            "council": _council_name(letters[0].municipality, language),
            "organization": campaign.organization(language),
        },
        to=[address(deliveries[0].recipient_name, deliveries[0].recipient_email)],
        language=language,
        from_email=from_email,
        reply_to=reply_to,
        message_id=mail.message_id,
    )


def followup_message(mail: OutgoingMail) -> EmailMultiAlternatives:
    """ "Did council reply?": one email, with a link per answer to the reply page."""
    letter = mail.letter
    campaign = letter.campaign
    reply = settings.SITE_URL + letter_path(letter, "reply/")
    return make_message(
        template="followup",
        context={
            "campaign": campaign,
            "language": letter.language,
            "municipality_name": letter.municipality.display_name(letter.language),
            "organization": campaign.organization(letter.language),
            "replied_url": f"{reply}?outcome=replied",
            "no_reply_url": f"{reply}?outcome=no_reply",
            "unsatisfactory_url": f"{reply}?outcome=unsatisfactory",
        },
        to=[letter.email],
        language=letter.language,
        from_email=campaign_from(campaign, letter.language),
        message_id=mail.message_id,
    )


def unsubscribe_url(letter: Letter) -> str:
    """The link that stops a campaign's updates to this writer (Letter.unsubscribe_token)."""
    prefix = "/fr" if letter.language == "fr" else ""
    return f"{settings.SITE_URL}{prefix}/letters/unsubscribe/{letter.unsubscribe_token()}/"


def update_message(mail: OutgoingMail) -> EmailMultiAlternatives:
    """A campaign update to a writer who asked to be kept updated, in their language, with
    an unsubscribe link and the List-Unsubscribe headers (one click, RFC 8058)."""
    letter = mail.letter
    campaign = mail.campaign
    update = mail.update
    link = unsubscribe_url(letter)
    return make_message(
        template="update",
        context={
            "campaign": campaign,
            "language": letter.language,
            "subject": update.subject(letter.language),
            "body": update.body(letter.language),
            "organization": campaign.organization(letter.language),
            "unsubscribe_url": link,
        },
        to=[letter.email],
        language=letter.language,
        from_email=campaign_from(campaign, letter.language),
        headers={
            "List-Unsubscribe": f"<{link}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        },
        message_id=mail.message_id,
    )


def letter_path(letter: Letter, suffix: str) -> str:
    """/letters/<token>/ (or /fr/letters/<token>/), plus suffix such as "delete/"."""
    prefix = "/fr" if letter.language == "fr" else ""
    return f"{prefix}/letters/{letter.token}/{suffix}"


def data_erased_message(mail: OutgoingMail) -> EmailMultiAlternatives:
    """Tell a resident their personal data is erased. The address is the row's own, captured
    before the letter's copy of it was erased (and cleared from the row once sent)."""
    letter = mail.letter
    campaign = letter.campaign
    return make_message(
        template="letter_erased",
        context={
            "name": "",
            "campaign": campaign,
            "organization": campaign.organization(letter.language),
            "site_url": settings.SITE_URL,
        },
        to=[mail.to_email],
        language=letter.language,
        from_email=campaign_from(campaign, letter.language),
        message_id=mail.message_id,
    )


def council_blocked_message(mail: OutgoingMail) -> EmailMultiAlternatives:
    """Tell an organizer that a council's mail server refuses our mail (letters.sending.
    council_block): what it answered, that its letters are held, and where to resume them
    once the council lets our mail through. In the language of the campaign whose letter
    was refused; from the site's own address."""
    council = mail.municipality
    language = mail.campaign.default_language
    held = OutgoingMail.objects.to_council(council).filter(status=OutgoingMail.Status.HELD).count()
    return make_message(
        template="council_blocked",
        context={
            "council": council.display_name(language),
            "province": council.province,
            "reason": council.mail_block_reason,
            "held": held,
            "campaign": mail.campaign,
            "organization": mail.campaign.organization(language),
            "sender_domain": _domain(mail.campaign.sender_email),
            "resume_url": settings.SITE_URL + reverse("admin:letters_council_delivery"),
        },
        to=[mail.to_email],
        language=language,
        message_id=mail.message_id,
    )
