# ruff: noqa: F811  (pytest fixtures imported from journey_helpers)
"""The letter form asks for consent to publication when the campaign files letters with the
clerk, and the letter keeps the exact wording agreed to, with its time."""

import pytest

from campaigns.models import Campaign
from letters.models import Letter
from letters.services import publication_consent_text
from tests.letters.journey_helpers import (  # noqa: F401 (fixtures)
    campaign,
    council,
    journey_settings,
    letter_data,
    write_and_send,
)


def everyone(council) -> list[str]:
    return [str(rep.pk) for rep in council["emailable"]]


pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("journey_settings")]


def test_the_form_asks_for_publication_and_stores_the_wording(
    client, campaign, council, django_capture_on_commit_callbacks, settings
):
    settings.LETTERS_PER_RECIPIENT_HOUR = 3_600_000
    campaign.clerk_mode = Campaign.ClerkMode.EACH
    campaign.clerk_agenda_item = "Item 8.2"
    campaign.save()
    page = client.get(f"/campaigns/{campaign.slug}/council/", {"postal_code": "K1A 0B1"})
    assert page.status_code == 302
    form = client.get(page["Location"]).content.decode()
    assert "Also file my letter with the municipal clerk" in form

    write_and_send(client, campaign, letter_data(publish="on", recipients=everyone(council)))

    letter = Letter.objects.get()
    assert letter.publication_consent is True
    assert letter.publication_consent_text == publication_consent_text(language="en")
    assert "may be published in the public record, with my name" in (
        letter.publication_consent_text
    )
    assert letter.publication_consent_at is not None


def test_without_the_box_ticked_nothing_is_stored(client, campaign, council):
    campaign.clerk_mode = Campaign.ClerkMode.EACH
    campaign.clerk_agenda_item = "Item 8.2"
    campaign.save()

    write_and_send(client, campaign, letter_data(recipients=everyone(council)))

    letter = Letter.objects.get()
    assert (letter.publication_consent, letter.publication_consent_text) == (False, "")
    assert letter.publication_consent_at is None


def test_a_campaign_that_does_not_file_with_the_clerk_does_not_ask(client, campaign, council):
    page = client.get(f"/campaigns/{campaign.slug}/council/", {"postal_code": "K1A 0B1"})
    form = client.get(page["Location"]).content.decode()
    assert "Also file my letter with the municipal clerk" not in form
