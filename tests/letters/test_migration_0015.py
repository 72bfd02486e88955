"""Migration 0015: replies recorded before it get the campaign, letter, council,
representative and sending time their responsiveness is counted by."""

import pytest
from django.utils import timezone

from tests.factories import CampaignFactory, MunicipalityFactory, RepresentativeFactory
from tests.letters.test_migrations import after, migrate  # noqa: F401

BEFORE = [("letters", "0014_recipientpace_last_sent_at")]


@pytest.mark.django_db(transaction=True)
def test_0015_copies_what_replies_are_counted_by(migrate):  # noqa: F811
    old = migrate(BEFORE)
    Letter = old.get_model("letters", "Letter")
    Delivery = old.get_model("letters", "Delivery")
    Reply = old.get_model("letters", "Reply")
    campaign = CampaignFactory()
    municipality = MunicipalityFactory()
    rep = RepresentativeFactory(municipality=municipality)
    sent_at = timezone.now()
    letter = Letter.objects.create(
        campaign_id=campaign.pk,
        municipality_id=municipality.pk,
        status="confirmed",
        confirmed_at=sent_at,
        subject="s",
        body="b",
    )
    delivery = Delivery.objects.create(
        letter=letter,
        representative_id=rep.pk,
        recipient_name=rep.name,
        status="sent",
        sent_at=sent_at,
    )
    Reply.objects.create(delivery=delivery, outcome="replied")

    new = migrate(after())

    reply = new.get_model("letters", "Reply").objects.get()
    assert (
        reply.campaign_id,
        reply.letter_id,
        reply.municipality_id,
        reply.representative_id,
        reply.delivery_sent_at,
    ) == (campaign.pk, letter.pk, municipality.pk, rep.pk, sent_at)
