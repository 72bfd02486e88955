# ruff: noqa: F811  (pytest fixtures imported from journey_helpers)
"""SQL-ish, oversized and Unicode-edge input: a clear message or a clean save, never a 500."""

import pytest

from letters.composition import PERSONAL_MESSAGE_MAX
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

SQLISH = [
    "' OR '1'='1",
    "1; DROP TABLE letters_letter; --",
    "Robert'); DROP TABLE campaigns_campaign;--",
    '%" OR 1=1 --',
    "\\'; SELECT pg_sleep(10); --",
]
RTL = "\u202eenaJ\u202c"  # right-to-left override
RLM = "\u200fسارة"  # right-to-left mark, Arabic name
ZERO_WIDTH = "Ja\u200bne\u200d\ufeff"
EMOJI = "Jane 🦊🏳️‍🌈"


def _write(client, campaign, council, **overrides):
    choose_council(client, campaign)
    data = letter_data(recipients=[council["mayor"].pk], **overrides)
    return fill_letter(client, campaign, data)


@pytest.mark.parametrize("value", SQLISH)
def test_sql_in_the_postal_code_and_search_gives_a_clear_message(client, campaign, value):
    response = client.post(
        f"/campaigns/{campaign.slug}/council/", {"postal_code": value, "action": "lookup"}
    )
    assert response.status_code == 200
    assert "postal code" in response.content.decode().lower()
    client.post(
        f"/campaigns/{campaign.slug}/council/", {"postal_code": "X0X 0X0", "action": "lookup"}
    )
    response = client.post(f"/campaigns/{campaign.slug}/council/", {"q": value, "action": "search"})
    assert response.status_code in (200, 302)


@pytest.mark.parametrize("value", SQLISH)
def test_sql_in_the_address_and_message_is_stored_as_typed(client, campaign, council, value):
    address = f"12 {value}"
    response = _write(client, campaign, council, street_address=address, personal_message=value)
    assert response.status_code == 302
    assert send(client, campaign).status_code == 302
    letter = Letter.objects.get()
    assert letter.street_address == address.strip()
    assert letter.personal_message == value.strip()


# Names refuse brackets and quotation marks (tests/security/test_names.py); what SQL fits in
# a name is stored as typed.
@pytest.mark.parametrize("value", ["' OR '1'='1", "Robert' OR 1=1 --", "x' AND sleep'"])
def test_sql_in_names_is_stored_as_typed(client, campaign, council, value):
    response = _write(client, campaign, council, last_name=value)
    assert response.status_code == 302
    assert send(client, campaign).status_code == 302
    assert Letter.objects.get().last_name == value


def test_a_huge_postal_code_gives_a_clear_message(client, campaign):
    response = client.post(
        f"/campaigns/{campaign.slug}/council/", {"postal_code": "K" * 100_000, "action": "lookup"}
    )
    assert response.status_code == 200
    assert "Enter a postal code like K1A 0B1." in response.content.decode()


def test_overlong_names_give_a_clear_message(client, campaign, council):
    response = _write(client, campaign, council, first_name="A" * 51, street_address="1" * 5000)
    html = response.content.decode()
    assert response.status_code == 200
    assert "Your first name must be 50 characters or fewer." in html
    assert "Your street address must be 100 characters or fewer." in html


def test_a_10000_character_message_gives_a_clear_message(client, campaign, council):
    response = _write(client, campaign, council, personal_message="word " * 2000)
    assert response.status_code == 200
    excess = len(("word " * 2000).strip()) - PERSONAL_MESSAGE_MAX
    assert (
        f"Your personal message must be {PERSONAL_MESSAGE_MAX:,} characters or fewer. "
        f"You have {excess:,} characters too many."
    ) in response.content.decode()
    # What was typed is kept in the form, not lost.
    assert response.content.decode().count("word word") > 100


def test_a_message_of_exactly_the_limit_is_sent(client, campaign, council):
    message = ("é🦊" * PERSONAL_MESSAGE_MAX)[:PERSONAL_MESSAGE_MAX]
    assert _write(client, campaign, council, personal_message=message).status_code == 302
    assert send(client, campaign).status_code == 302
    assert Letter.objects.get().personal_message == message


def test_a_request_body_over_the_upload_limit_is_a_400(client, campaign, council, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 100_000
    choose_council(client, campaign)
    response = client.post(
        f"/campaigns/{campaign.slug}/write/", {"personal_message": "x" * 200_000}
    )
    assert response.status_code == 400


def test_null_characters_give_a_clear_message(client, campaign, council):
    response = _write(client, campaign, council, personal_message="a\x00b", last_name="D\x00e")
    assert response.status_code == 200
    assert "Null characters are not allowed" in response.content.decode()


@pytest.mark.parametrize(
    ("name", "saved"),
    [
        # Format characters (direction marks, zero-width) are removed from names.
        (RTL, "enaJ"),
        (RLM, "سارة"),
        (ZERO_WIDTH, "Jane"),
        (EMOJI, "Jane 🦊🏳️🌈"),
    ],
)
def test_unicode_names_are_saved_and_shown(client, campaign, council, name, saved):
    response = _write(client, campaign, council, first_name=name, personal_message=name * 50)
    assert response.status_code == 302
    assert saved in client.get(f"/campaigns/{campaign.slug}/preview/").content.decode()
    assert send(client, campaign).status_code == 302
    assert Letter.objects.get().first_name == saved


def test_a_zero_width_character_in_the_email_gives_a_clear_message(client, campaign, council):
    response = _write(client, campaign, council, email="ja\u200bne@example.org")
    assert response.status_code == 200
    assert (
        "Enter an email address in the correct format, like name@example.com."
        in response.content.decode()
    )


def test_garbage_in_list_fields_gives_a_clear_message(client, campaign, council):
    choose_council(client, campaign)
    data = letter_data(recipients=["'; DROP TABLE x;--", "99999999999999999999"])
    data["talking_points"] = ["abc", "-1"]
    response = fill_letter(client, campaign, data)
    assert response.status_code == 200
    html = response.content.decode()
    assert "Choose recipients from this council only." in html
    assert "Choose talking points from the list." in html


def test_a_forged_municipality_pick_gives_a_clear_message(client, campaign):
    client.post(
        f"/campaigns/{campaign.slug}/council/", {"postal_code": "X0X 0X0", "action": "lookup"}
    )
    for value in ["1 OR 1=1", "999999:abc", "::", "-1"]:
        response = client.post(
            f"/campaigns/{campaign.slug}/council/", {"municipality": value, "action": "pick"}
        )
        assert response.status_code == 200
