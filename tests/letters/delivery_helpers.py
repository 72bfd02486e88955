"""Helpers for the delivery tests: a confirmed letter with one delivery per representative,
deliveries whose email failed, and Django's SMTP backend pointed at a local server."""

from django.utils import timezone

from campaigns.models import Campaign
from letters.models import Delivery, Letter, OutgoingMail, canonical_email
from tests.factories import CampaignFactory, MunicipalityFactory, RepresentativeFactory


def make_letter(
    *,
    campaign: Campaign | None = None,
    recipients: int = 2,
    language: str = "en",
    send_copy: bool = False,
    email: str = "jane.resident@example.net",
    status: str = Delivery.Status.PENDING_CONFIRMATION,
    **letter_fields,
) -> Letter:
    campaign = campaign or CampaignFactory()
    municipality = MunicipalityFactory()
    letter = Letter.objects.create(
        campaign=campaign,
        municipality=municipality,
        language=language,
        first_name="Jane",
        last_name="Resident",
        email=email,
        email_canonical=canonical_email(email),
        postal_code="K1A 0B1",
        send_copy=send_copy,
        subject=f"Please act in {municipality.name}",
        body="Dear Council,\n\nPlease act.\n\nhttps://example.org/source\n\n--\nJane Resident",
        status=Letter.Status.CONFIRMED,
        confirmed_at=timezone.now(),
        **letter_fields,
    )
    for n in range(recipients):
        rep = RepresentativeFactory(
            municipality=municipality,
            name=f"Rep {letter.pk}-{n}",
            email=f"rep{letter.pk}-{n}@council.example.org",
        )
        Delivery.objects.create(
            letter=letter,
            representative=rep,
            recipient_name=rep.name,
            recipient_role="Councillor",
            recipient_email=rep.email,
            status=status,
        )
    return letter


def fail_deliveries(
    deliveries, *, attempts: int = 6, error: str = "Gave up after 6 attempts. Last error: 451"
) -> list[OutgoingMail]:
    """Leave these deliveries as the sender leaves a letter that failed for good: each on its
    own email, FAILED after its attempts, with the error on both rows."""
    mails = []
    for delivery in deliveries:
        mail = OutgoingMail.objects.create(
            kind=OutgoingMail.Kind.TEST if delivery.letter.is_test else OutgoingMail.Kind.LETTER,
            letter=delivery.letter,
            campaign=delivery.letter.campaign,
            status=OutgoingMail.Status.FAILED,
            attempts=attempts,
            last_error=error,
            message_id=f"<letter.failed.{delivery.pk}@example.org>",
        )
        Delivery.objects.filter(pk=delivery.pk).update(
            status=Delivery.Status.FAILED, mail=mail, last_error=error
        )
        mails.append(mail)
    return mails


def use_smtp(settings, port: int) -> None:
    """Send through the app's SMTP backend (Django's, keeping refused recipients) to a local
    server."""
    settings.EMAIL_BACKEND = "letters.mail_backends.SMTPBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = port
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = ""
    settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_TIMEOUT = 5
