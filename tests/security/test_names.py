# ruff: noqa: F811  (pytest fixtures imported from journey_helpers)
"""The sender's fields through the real letter step: names used as disguises in the letter's
From header ("First Last via Organization"), and a locked letter's only free fields used for
slogans."""

import base64
import unicodedata

import pytest
from django.core import mail

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

BRACKETS = "Enter your name without @, &lt;, &gt; or brackets."
QUOTES = "Enter your name without quotation marks (apostrophes are fine)."
ENCODED = "Enter your name without “=?”."


def _write(client, campaign, council, **overrides):
    choose_council(client, campaign)
    data = letter_data(recipients=[rep.pk for rep in council["emailable"]], **overrides)
    return fill_letter(client, campaign, data)


def _field_error(html: str, field: str, message: str) -> bool:
    """The message is shown right after the field's input (crispy's invalid-feedback)."""
    start = html.find(f'id="id_{field}"')
    return start != -1 and message in html[start : start + 1500]


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("last_name", "Mayor of Toronto (Office of the Mayor)", BRACKETS),
        ("last_name", "Chow <mayor@toronto.ca>", BRACKETS),
        ("first_name", "mayor@toronto.ca", BRACKETS),
        ("last_name", "[City Clerk]", BRACKETS),
        ("last_name", "{Office}", BRACKETS),
        # Full-width lookalikes are the same characters to a mail client's eye.
        ("last_name", "Chow＜mayor＠toronto.ca＞", BRACKETS),
        ("last_name", '"Office of the Mayor"', QUOTES),
        ("last_name", "“Office of the Mayor”", QUOTES),
        ("first_name", "«Le maire»", QUOTES),
    ],
)
def test_a_disguised_name_is_refused_next_to_the_field(
    client, campaign, council, field, value, message
):
    response = _write(client, campaign, council, **{field: value})

    assert response.status_code == 200
    html = response.content.decode()
    assert _field_error(html, field, message), html
    assert send(client, campaign).status_code == 302  # back to the letter step
    assert not Letter.objects.exists()


def _encoded_word(text: str) -> str:
    return "=?utf-8?b?" + base64.b64encode(text.encode()).decode() + "?="


@pytest.mark.parametrize(
    "value",
    [
        _encoded_word("Mayor of Toronto"),
        "=?iso-8859-1?q?Maire_de_Montr=E9al?=",
        "Jane =?utf-8?q?x?=",
        # An invisible character between "=" and "?" is removed first, then refused.
        "=\u200b?utf-8?q?Mayor?=",
    ],
)
def test_an_encoded_word_name_is_refused_before_it_is_counted(
    client, campaign, council, value, django_capture_on_commit_callbacks
):
    # Accepted, it was counted and then failed every delivery, silently.
    response = _write(client, campaign, council, first_name=value)

    assert response.status_code == 200
    assert _field_error(response.content.decode(), "first_name", ENCODED)
    with django_capture_on_commit_callbacks(execute=True):
        send(client, campaign)
    assert not Letter.objects.exists()
    assert mail.outbox == []


def _has_format_character(text: str) -> bool:
    return any(unicodedata.category(ch) == "Cf" for ch in text)


def test_direction_overrides_and_zero_width_characters_are_removed(
    client, campaign, council, django_capture_on_commit_callbacks
):
    # "\u202eroyaM" shows as "Mayor"; the zero-width characters split a name that a filter
    # would otherwise match.
    response = _write(
        client,
        campaign,
        council,
        first_name="\u202eroyaM\u202c",
        last_name="Ch\u200bo\u200dw\ufeff",
        street_address="100 Queen\u2066 Street\u2069 West",
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    preview = client.get(f"/campaigns/{campaign.slug}/preview/").content.decode()
    assert "royaM Chow" in preview
    assert not _has_format_character(preview)

    with django_capture_on_commit_callbacks(execute=True):
        assert send(client, campaign).status_code == 302
    letter = Letter.objects.get()
    assert (letter.first_name, letter.last_name) == ("royaM", "Chow")
    assert letter.street_address == "100 Queen Street West"
    for message in mail.outbox:
        assert not _has_format_character(str(message.message()))


def test_a_name_of_only_invisible_characters_is_required_again(client, campaign, council):
    response = _write(client, campaign, council, first_name="\u200b\u202e\u200d")
    assert response.status_code == 200
    assert _field_error(response.content.decode(), "first_name", "Enter your first name.")


# --- A locked letter carries no slogans -----------------------------------------------------

SLOGAN = "BAN FACIAL RECOGNITION NOW. NO CAMERAS IN OUR PARKS. VOTE THEM OUT IN OCTOBER. "


@pytest.fixture
def locked(campaign):
    Campaign.objects.filter(pk=campaign.pk).update(editing_mode=Campaign.EditingMode.LOCKED)
    campaign.refresh_from_db()
    return campaign


def test_a_locked_letter_refuses_slogans_in_the_sender_fields(client, locked, council):
    # ~400 characters over the three fields the locked letter leaves free.
    response = _write(
        client,
        locked,
        council,
        first_name=SLOGAN[:100],
        last_name=SLOGAN[:100],
        street_address=(SLOGAN * 3)[:200].replace("0", ""),
    )

    assert response.status_code == 200
    html = response.content.decode()
    assert _field_error(html, "first_name", "Your first name must be 50 characters or fewer.")
    assert _field_error(html, "last_name", "Your last name must be 50 characters or fewer.")
    assert _field_error(
        html, "street_address", "Your street address must be 100 characters or fewer."
    )
    assert not Letter.objects.exists()


@pytest.mark.parametrize(
    "value",
    [
        "Ban facial recognition. Protect us",
        "Ban it now! Jane",
        "Jane? Ban it",
        "Jane; ban cameras",
        "Jane: ban cameras",
        "Jane… ban cameras",
    ],
)
def test_a_name_of_sentences_is_refused(client, locked, council, value):
    response = _write(client, locked, council, last_name=value)
    assert response.status_code == 200
    assert _field_error(
        response.content.decode(), "last_name", "Enter only your name here, not sentences."
    )


@pytest.mark.parametrize("value", ["Ban facial recognition", "No cameras in our parks"])
def test_a_street_address_needs_a_number(client, locked, council, value):
    response = _write(client, locked, council, street_address=value)
    assert response.status_code == 200
    html = response.content.decode()
    assert _field_error(
        html, "street_address", "Enter your street address with its number, e.g. 12 Main Street."
    )
    assert "Include the civic number" in html  # the help text says so before any error


@pytest.mark.parametrize(
    "value", ["12 Elm Street", "4-1020 rue Saint-Denis", "Apt. 5, 200 Queen St. W", "RR 2"]
)
def test_a_locked_letter_with_a_real_address_is_sent(client, locked, council, value):
    response = _write(
        client, locked, council, first_name="J. R.", last_name="St. John", street_address=value
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    assert send(client, locked).status_code == 302
    letter = Letter.objects.get()
    assert (letter.first_name, letter.last_name, letter.street_address) == (
        "J. R.",
        "St. John",
        value,
    )
