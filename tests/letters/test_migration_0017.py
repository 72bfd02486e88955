"""Migration 0017: letters written before personal parts were fingerprinted get their
fingerprint, so a new letter's near-copy check counts them."""

import pytest
from django.utils import timezone

from letters import near_duplicates
from letters.selectors import personal_part_near_duplicate
from tests.factories import CampaignFactory, MunicipalityFactory, RepresentativeFactory
from tests.letters.test_migrations import after, migrate  # noqa: F401

BEFORE = [("letters", "0016_counted_index_own_words")]
COPIED = (
    "Facial recognition has no place in our city and council should ban it before the police "
    "buy any system."
)


@pytest.mark.django_db(transaction=True)
def test_0017_fingerprints_older_letters_so_new_copies_are_noticed(migrate, settings):  # noqa: F811
    settings.LETTERS_NEAR_COPIES_TO_WARN = 3
    old = migrate(BEFORE)
    Letter = old.get_model("letters", "Letter")
    Delivery = old.get_model("letters", "Delivery")
    campaign = CampaignFactory()
    municipality = MunicipalityFactory()
    rep = RepresentativeFactory(municipality=municipality)

    def older_letter(number, message, **fields):
        letter = Letter.objects.create(
            campaign_id=campaign.pk,
            municipality_id=municipality.pk,
            status="confirmed",
            confirmed_at=timezone.now(),
            email=f"writer{number}@example.org",
            email_canonical=f"writer{number}@example.org",
            subject="s",
            body="b",
            personal_message=message,
            has_personal_part=bool(message),
            **fields,
        )
        Delivery.objects.create(
            letter=letter, representative_id=rep.pk, recipient_name=rep.name, status="sent"
        )
        return letter.pk

    copies = [older_letter(n, COPIED.replace("city", f"city {n}")) for n in range(3)]
    short = older_letter(3, "I agree.")
    erased = older_letter(4, "", purged_at=timezone.now())

    new = migrate(after())

    NewLetter = new.get_model("letters", "Letter")
    bands = new.get_model("letters", "PersonalPartBand").objects
    for pk in copies:
        assert (
            len(NewLetter.objects.get(pk=pk).personal_signature) == near_duplicates.SIGNATURE_SIZE
        )
        assert bands.filter(letter_id=pk, municipality_id=municipality.pk).count() == (
            near_duplicates.BANDS
        )
    for pk in (short, erased):
        assert NewLetter.objects.get(pk=pk).personal_signature == []
        assert not bands.filter(letter_id=pk).exists()
    # A new letter copying them is noticed; a resident's own story is not.
    assert personal_part_near_duplicate(
        fingerprint=near_duplicates.fingerprint(COPIED),
        municipality_id=municipality.pk,
        representative_ids=[rep.pk],
    )
    assert not personal_part_near_duplicate(
        fingerprint=near_duplicates.fingerprint(
            "My son takes the bus past the station where the new cameras went up last spring."
        ),
        municipality_id=municipality.pk,
        representative_ids=[rep.pk],
    )
