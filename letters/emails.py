"""The one place where outgoing messages are built.

Each message comes from three templates: emails/<name>-subject.txt, -body.txt and -body.html.
"""

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.core.mail.message import make_msgid
from django.template.loader import render_to_string
from django.utils import translation

from .models import Letter


def make_message(
    *,
    template: str,
    context: dict,
    to: list[str],
    language: str,
    from_email: str | None = None,
    reply_to: list[str] | None = None,
    headers: dict[str, str] | None = None,
) -> EmailMultiAlternatives:
    """Render a message in the given language, text plus an HTML alternative.

    Subjects are collapsed to one line, so no line break from user input reaches a header.
    """
    with translation.override(language):
        subject = render_to_string(f"emails/{template}-subject.txt", context)
        text = render_to_string(f"emails/{template}-body.txt", context)
        html = render_to_string(f"emails/{template}-body.html", context)
    subject = " ".join(subject.split())
    domain = (from_email or settings.DEFAULT_FROM_EMAIL).rpartition("@")[2].strip(">") or None
    message = EmailMultiAlternatives(
        subject=subject,
        body=text,
        from_email=from_email or settings.DEFAULT_FROM_EMAIL,
        to=to,
        reply_to=reply_to,
        headers={"Message-ID": make_msgid(domain=domain), **(headers or {})},
    )
    message.attach_alternative(html, "text/html")
    return message


def confirmation_message(letter: Letter) -> EmailMultiAlternatives:
    """The email asking a resident to confirm their letter (see letters.services)."""
    return make_message(
        template="letter_confirm",
        context={"letter": letter, "site_url": settings.SITE_URL},
        to=[letter.email],
        language=letter.language,
        from_email=letter.campaign.sender_email,
    )


def letter_message(delivery) -> EmailMultiAlternatives:
    """The letter to one representative: From "First Last via <org>", Reply-To the resident."""
    letter = delivery.letter
    campaign = letter.campaign
    from_name = f"{letter.sender_name} via {campaign.sender_name}"
    return make_message(
        template="letter",
        context={"letter": letter, "delivery": delivery},
        to=[delivery.recipient_email],
        language=letter.language,
        from_email=f'"{from_name}" <{campaign.sender_email}>',
        reply_to=[letter.email],
    )
