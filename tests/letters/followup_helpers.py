"""Letters that reached council, for the follow-up, reply, responsiveness and update tests."""

from datetime import UTC, date, datetime

from councils.models import Municipality, Representative
from letters import replies_and_updates
from letters.models import Delivery, Letter, Reply, canonical_email
from tests.factories import MunicipalityFactory, RepresentativeFactory

SENT_AT = datetime(2026, 11, 2, 15, 0, tzinfo=UTC)  # 10:00 in Toronto, the site's zone

_numbers = iter(range(1, 10_000_000))


def council_of(name: str, members: list[str], **fields) -> tuple[Municipality, list]:
    municipality = MunicipalityFactory(name=name, **fields)
    reps = [
        RepresentativeFactory(
            municipality=municipality,
            name=member,
            email=f"{member.lower().replace(' ', '.')}@{name.lower()}.example.org",
        )
        for member in members
    ]
    return municipality, reps


def sent_letter(
    campaign,
    municipality: Municipality,
    reps: list[Representative],
    *,
    sent_at: datetime = SENT_AT,
    status: str = Delivery.Status.DELIVERED,
    followup: bool = True,
    email: str = "",
    language: str = "en",
    clerk: bool = False,
    **fields,
) -> Letter:
    """A confirmed letter whose email went to each of reps at sent_at (status), the writer
    having asked (followup) to be asked whether council replied."""
    number = next(_numbers)
    email = email or f"writer{number}@example.net"
    values = {
        "first_name": "Wanda",
        "last_name": f"Writer{number}",
        "email": email,
        "email_canonical": canonical_email(email),
        "postal_code": "K1A 0B1",
        "subject": "Please act",
        "body": "Dear council, signed Wanda",
        "language": language,
        "status": Letter.Status.CONFIRMED,
        "confirmed_at": sent_at,
        "created_at": sent_at,
        "followup_consent": followup,
        "followup_consent_text": "Ask me in two weeks whether council replied" if followup else "",
        "followup_consent_at": sent_at if followup else None,
        **fields,
    }
    letter = Letter.objects.create(campaign=campaign, municipality=municipality, **values)
    for rep in reps:
        Delivery.objects.create(
            letter=letter,
            representative=rep,
            recipient_name=rep.name,
            recipient_role=rep.role_text,
            recipient_email=rep.email,
            status=status,
            sent_at=sent_at
            if status in (Delivery.Status.SENT, Delivery.Status.DELIVERED)
            else None,
        )
    if clerk:
        Delivery.objects.create(
            letter=letter,
            recipient_name="Clerk",
            recipient_email="clerk@example.org",
            status=status,
            to_clerk=True,
            sent_at=sent_at,
        )
    return letter


def reply_to(
    letter: Letter,
    rep: Representative,
    outcome: str = Reply.Outcome.REPLIED,
    *,
    replied_on: date | None = None,
    summary: str = "",
    may_publish: bool = False,
) -> Reply | None:
    """What the writer reports about rep, recorded as the answer page records it (None when
    it is not: a test letter's, or a recipient the letter did not reach)."""
    delivery = letter.deliveries.get(representative=rep)
    answer = {
        "outcome": outcome,
        "replied_on": replied_on,
        "summary": summary,
        "may_publish": may_publish,
    }
    replies_and_updates.replies_record(letter=letter, answers={delivery.pk: answer})
    return Reply.objects.filter(delivery=delivery).first()
