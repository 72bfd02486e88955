"""Helpers for the tests of council-friendly delivery (issue 15): a council in a province,
letters to its members confirmed at a given moment, and the emails each address received."""

from datetime import datetime

from django.core import mail as django_mail
from django.utils import timezone

from campaigns.models import Campaign
from councils.models import Municipality, Representative
from letters.models import Delivery, Letter, OutgoingMail, canonical_email
from letters.services import letter_queue
from tests.factories import CampaignFactory, MunicipalityFactory, RepresentativeFactory


def council(
    size: int = 1, *, name: str = "Ottawa", province: str = "ON", **fields
) -> list[Representative]:
    """A municipality in this province and its members, each with an address of their own."""
    municipality = MunicipalityFactory(name=name, province=province, **fields)
    return [
        RepresentativeFactory(
            municipality=municipality,
            name=f"Rep {n} of {name}",
            email=f"rep{n}@{name.lower().replace(' ', '-')}.example.org",
        )
        for n in range(size)
    ]


def letter_to(
    representatives: list[Representative],
    *,
    campaign: Campaign | None = None,
    first_name: str = "Jane",
    last_name: str = "Resident",
    email: str | None = None,
    postal_code: str = "K1A 0B1",
    ward=None,
    confirmed_at: datetime | None = None,
    send_copy: bool = False,
    **fields,
) -> Letter:
    """A confirmed letter to these representatives whose deliveries wait to be queued
    (letter_queue, as the confirmation does)."""
    campaign = campaign or CampaignFactory()
    email = email or f"{first_name}.{last_name}@example.net".lower()
    municipality: Municipality = representatives[0].municipality
    letter = Letter.objects.create(
        campaign=campaign,
        municipality=municipality,
        ward=ward,
        language="en",
        first_name=first_name,
        last_name=last_name,
        email=email,
        email_canonical=canonical_email(email),
        postal_code=postal_code,
        subject=f"Please act, from {first_name}",
        body=f"Dear Council,\n\nPlease act.\n\n--\n{first_name} {last_name}",
        status=Letter.Status.CONFIRMED,
        confirmed_at=confirmed_at or timezone.now(),
        send_copy=send_copy,
        **fields,
    )
    for rep in representatives:
        Delivery.objects.create(
            letter=letter,
            representative=rep,
            recipient_name=rep.name,
            recipient_role="Councillor",
            recipient_email=rep.email,
        )
    return letter


def confirm(letter: Letter, capture) -> Letter:
    """Queue a confirmed letter's emails as its confirmation does, running what is due now."""
    with capture(execute=True):
        letter_queue(letter=letter)
    return letter


def mails_to(address: str) -> list[OutgoingMail]:
    """The emails to the council that carry a delivery to this address, by due time."""
    return list(
        OutgoingMail.objects.filter(deliveries__recipient_email=address)
        .distinct()
        .order_by("send_after", "pk")
    )


def received_by(address: str) -> list:
    """The messages Django's test outbox holds for this address, in the order they were sent."""
    return [m for m in django_mail.outbox if any(address in to for to in m.to)]
