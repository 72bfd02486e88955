# ruff: noqa: F811  (pytest fixtures imported from journey_helpers)
"""Residents are told, before Send and after, when their letter reaches council: paced per
recipient, in the council's office hours in its own time zone, or in the day's digest."""

import pytest
from django.utils.html import escape

from campaigns.models import Campaign
from letters.models import Letter
from tests.letters.journey_helpers import (  # noqa: F401
    campaign,
    choose_council,
    council,
    fill_letter,
    journey_settings,
    letter_data,
    send,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("journey_settings")]

PACED = "no member of council gets more than 20 letters an hour from us"
DIGEST = "gets this campaign's letters in one email a day"


def everyone(council):
    return [rep.pk for rep in council["emailable"]]


def preview(client, campaign, council, prefix="") -> str:
    choose_council(client, campaign, prefix=prefix)
    response = fill_letter(
        client, campaign, letter_data(recipients=everyone(council)), prefix=prefix
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    return client.get(f"{prefix}/campaigns/{campaign.slug}/preview/").content.decode()


def confirmed_thanks(client, campaign, council, capture) -> str:
    """Send, confirm by the emailed link, then the thank-you page the link leads to."""
    preview(client, campaign, council)
    with capture(execute=True):
        send(client, campaign)
        letter = Letter.objects.get()
        client.post(f"/letters/confirm/{letter.confirmation_token}/")
    return client.get(f"/campaigns/{campaign.slug}/thanks/").content.decode()


def test_the_preview_says_letters_are_paced_per_councillor(client, campaign, council, settings):
    settings.LETTERS_PER_RECIPIENT_HOUR = 20
    html = preview(client, campaign, council)
    assert PACED in html
    assert "first confirmed, first sent" in html
    assert "office hours" not in html
    assert DIGEST not in html


def test_the_preview_gives_office_hours_in_the_councils_own_time_zone(client, campaign, council):
    campaign.office_hours_only = True
    campaign.save()
    council["municipality"].province = "NS"
    council["municipality"].save()

    html = preview(client, campaign, council)

    assert (
        "office hours only: Monday to Friday, 8:00 to 18:00, Atlantic time, except public holidays."
        in html
    )


def test_the_preview_in_french_writes_hours_the_french_way(client, campaign, council):
    campaign.office_hours_only = True
    campaign.save()
    council["municipality"].province = "NL"
    council["municipality"].save()

    html = preview(client, campaign, council, prefix="/fr")

    assert (
        escape(
            "du lundi au vendredi, de 8\u00a0h à 18\u00a0h, heure de Terre-Neuve, sauf les jours fériés."
        )
        in html
    )
    assert "lettres par heure" in html


def test_a_digest_campaigns_preview_says_one_email_a_day_and_shows_no_from_line(
    client, campaign, council, settings
):
    settings.DIGEST_HOUR = 7
    settings.TIME_ZONE = "America/Toronto"
    campaign.schedule = Campaign.Schedule.DAILY_DIGEST
    campaign.save()

    html = preview(client, campaign, council)

    assert DIGEST + ", made at 7:00 (Eastern time)" in html
    assert "This is your letter as it will appear in it:" in html
    assert "Each recipient gets their own email" not in html
    # The digest comes from the campaign, not "Jane Doe via ...": no From line to mislead.
    assert "Jane Doe via Privacy Org" not in html
    assert "jane@example.org" in html  # listed beside the letter for a reply
    assert PACED not in html


def test_no_schedule_is_promised_where_nobody_can_be_emailed(client, campaign, council):
    for rep in council["emailable"]:
        rep.email = ""
        rep.save()
    choose_council(client, campaign)
    fill_letter(client, campaign, letter_data(recipients=[council["no_email"].pk]))
    html = client.get("/campaigns/cams/preview/").content.decode()
    assert PACED not in html and DIGEST not in html


def test_the_thank_you_page_tells_a_confirmed_writer_when_their_letter_goes(
    client, campaign, council, django_capture_on_commit_callbacks
):
    campaign.office_hours_only = True
    campaign.save()

    html = confirmed_thanks(client, campaign, council, django_capture_on_commit_callbacks)

    assert "Each councillor receives your letter by email, from your name" in html
    assert PACED in html
    assert "8:00 to 18:00, Eastern time, except public holidays." in html


def test_the_thank_you_page_of_a_digest_campaign_says_the_letter_joins_the_daily_email(
    client, campaign, council, django_capture_on_commit_callbacks
):
    campaign.schedule = Campaign.Schedule.DAILY_DIGEST
    campaign.save()

    html = confirmed_thanks(client, campaign, council, django_capture_on_commit_callbacks)

    assert DIGEST in html
    assert "Each councillor receives your letter by email, from your name" not in html
    assert PACED not in html
