# ruff: noqa: F811  (pytest fixtures imported from journey_helpers)
"""A "+tag" or Gmail's dots make a new spelling of the same mailbox, not a new sender: the
per-address limit, the one-letter rule and the block list compare canonical addresses, while
mail still goes to the address as typed."""

import pytest
from django.core import mail
from django.test import Client

from councils.models import PostcodePrefix
from letters import services
from letters.models import BlockedSender, Letter, canonical_email
from tests.factories import MunicipalityFactory, RepresentativeFactory
from tests.letters.journey_helpers import (  # noqa: F401
    campaign,
    council,
    journey_settings,
    letter_data,
    write_and_send,
)

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("typed", "canonical"),
    [
        ("Jane.Doe+council@GMail.com", "janedoe@gmail.com"),
        ("j.a.n.e.d.o.e@googlemail.com", "janedoe@gmail.com"),
        ("jane.doe+x+y@example.org", "jane.doe@example.org"),
        ("JANE@Example.ORG", "jane@example.org"),
        ("+only@example.org", "+only@example.org"),
        ("not-an-address", "not-an-address"),
    ],
)
def test_canonical_email(typed, canonical):
    assert canonical_email(typed) == canonical


def send_as(campaign, council, email, **extra):
    return write_and_send(
        Client(), campaign, letter_data(recipients=[council["mayor"].pk], email=email), **extra
    )


def test_tags_and_dots_do_not_escape_the_per_address_limit(campaign, council, journey_settings):
    journey_settings.LETTERS_RATE_LIMIT_PER_EMAIL = 2
    send_as(campaign, council, "jane.doe@gmail.com")
    send_as(campaign, council, "janedoe+1@gmail.com")
    response = send_as(campaign, council, "j.a.n.e.doe+2@googlemail.com")
    assert response.status_code == 429
    assert Letter.objects.count() == 2


def test_tags_and_dots_do_not_escape_the_block_list(campaign, council, journey_settings):
    BlockedSender.objects.create(kind=BlockedSender.Kind.EMAIL, value="Jane.Doe@gmail.com")
    for variant in ("janedoe@gmail.com", "jane.doe+council@googlemail.com"):
        response = send_as(campaign, council, variant)
        assert "We could not accept this letter" in response.content.decode()
    assert not Letter.objects.exists()
    assert mail.outbox == []


def test_tags_and_dots_do_not_make_a_second_letter_to_one_council(
    campaign, council, journey_settings, django_capture_on_commit_callbacks
):
    campaign.requires_confirmation = False
    campaign.save()
    with django_capture_on_commit_callbacks(execute=True):
        send_as(campaign, council, "jane.doe@gmail.com")
        send_as(campaign, council, "JaneDoe+again@gmail.com")
    assert Letter.objects.count() == 1
    # The same mailbox may still write to another council.
    other = MunicipalityFactory(name="Gatineau", province="QC")
    RepresentativeFactory(municipality=other, email="maire@gatineau.example.org")
    PostcodePrefix.objects.create(fsa="J8T", municipality=other)
    client = Client()
    client.post(
        f"/campaigns/{campaign.slug}/council/", {"postal_code": "J8T 1A1", "action": "lookup"}
    )
    client.post(
        f"/campaigns/{campaign.slug}/write/",
        letter_data(recipients=[other.representatives.get().pk], email="jane.doe+g@gmail.com"),
    )
    client.post(f"/campaigns/{campaign.slug}/preview/")
    assert Letter.objects.count() == 2


def test_mail_goes_to_the_address_as_typed(
    campaign, council, journey_settings, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        send_as(campaign, council, "Jane.Doe+council@gmail.com")
    letter = Letter.objects.get()
    assert letter.email == "Jane.Doe+council@gmail.com"
    assert letter.email_canonical == "janedoe@gmail.com"
    assert mail.outbox[0].to == ["Jane.Doe+council@gmail.com"]
    services.letter_confirm(token=letter.confirmation_token)
