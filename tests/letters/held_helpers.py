"""Helpers for the held-letter tests: a council with no contacts yet, a resident's letter to
it through the services, and a roster import as the directory's importers leave it."""

from django.utils import timezone

from councils.models import Municipality, Role
from letters import services
from letters.models import Letter, OutgoingMail
from tests.factories import MunicipalityFactory, RepresentativeFactory

WEBSITE = "https://www.regina.example.org/council"


def no_contacts_council(**fields) -> Municipality:
    """Regina, known to the directory with its website, and nobody to email."""
    defaults = {"name": "Regina", "province": "SK", "website": WEBSITE}
    return MunicipalityFactory(**{**defaults, **fields})


def submit(campaign, municipality, *, hold=True, representatives=(), **fields) -> Letter:
    data = {
        "first_name": "Jane",
        "last_name": "Doe",
        "email": "jane@example.org",
        "postal_code": "S4P 3Y2",
        "language": "en",
        "send_copy": True,
        "personal_message": "Cameras went up on my street.",
    }
    data.update(fields)
    return services.letter_submit(
        campaign=campaign,
        municipality=municipality,
        representative_ids=[rep.pk for rep in representatives],
        hold_consent=hold,
        **data,
    )


def confirm(letter: Letter, capture) -> Letter:
    """Confirm the letter from its link, running what is queued after commit (the sends)."""
    with capture(execute=True):
        services.letter_confirm(token=letter.confirmation_token)
    letter.refresh_from_db()
    return letter


def import_roster(municipality: Municipality, *people, checked_at=None) -> list:
    """A roster import: the old members inactive, these (name, email, role) active, and the
    roster's checked-on time set, as councils' importers do."""
    municipality.representatives.update(active=False)
    reps = [
        RepresentativeFactory(
            municipality=municipality,
            name=name,
            email=email,
            role=role,
            role_text=Role(role).label,
        )
        for name, email, role in people
    ]
    municipality.roster_checked_at = checked_at or timezone.now()
    municipality.save()
    return reps


def mails_of(letter: Letter, kind: str) -> list[OutgoingMail]:
    return list(letter.mails.filter(kind=kind))


def outbox_to(outbox, address: str) -> list:
    return [message for message in outbox if any(address in to for to in message.to)]
