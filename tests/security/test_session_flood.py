# ruff: noqa: F811  (pytest fixtures imported from journey_helpers)
"""Anonymous visitors must not be able to make the servers store megabytes: the letter step
keeps only bounded copies of the form's own fields, bodies are capped, draft writes are
rate-limited, and sessions last hours."""

import pytest
from django.conf import settings
from django.contrib.sessions.models import Session

from tests.letters.journey_helpers import (  # noqa: F401
    campaign,
    choose_council,
    council,
    fill_letter,
    journey_settings,
    letter_data,
)

pytestmark = pytest.mark.django_db


def stored_bytes() -> int:
    return sum(len(row.session_data) for row in Session.objects.all())


def test_a_multi_megabyte_post_is_refused_and_stores_nothing(
    client, campaign, council, journey_settings
):
    choose_council(client, campaign)
    before = stored_bytes()
    response = fill_letter(client, campaign, letter_data(personal_message="x" * 2_400_000))
    assert response.status_code == 400
    assert stored_bytes() - before < 1000  # at most the step's start time


def test_the_draft_keeps_bounded_copies_of_the_forms_own_fields_only(
    client, campaign, council, journey_settings
):
    choose_council(client, campaign)
    before = stored_bytes()
    junk = {f"junk{number}": "y" * 1000 for number in range(50)}
    response = fill_letter(
        client,
        campaign,
        letter_data(
            personal_message="z" * 100_000,
            first_name="n" * 50_000,
            recipients=[str(number) for number in range(500)],
            **junk,
        ),
    )
    assert response.status_code == 200  # the step again, with its errors
    html = response.content.decode()
    assert "characters too many" in html
    draft = client.session[f"letters:draft:{campaign.pk}"]["data"]
    assert not any(name.startswith("junk") for name in draft)
    assert len(draft["personal_message"]) <= 2 * 2000
    assert len(draft["first_name"]) <= 2 * 100
    assert set(draft["recipients"]) <= {str(rep.pk) for rep in council["emailable"]}
    # A few kilobytes for a page that posted about 200 KB.
    assert stored_bytes() - before < 20_000


def test_draft_writes_from_one_address_are_rate_limited_without_losing_the_text(
    client, campaign, council, journey_settings
):
    journey_settings.LETTERS_DRAFT_WRITES_PER_IP = 3
    choose_council(client, campaign)  # 1
    fill_letter(client, campaign, letter_data(first_name=""))  # 2
    fill_letter(client, campaign, letter_data(first_name=""))  # 3
    response = fill_letter(
        client, campaign, letter_data(first_name="", personal_message="Keep these words.")
    )
    assert response.status_code == 429
    html = response.content.decode()
    assert "Keep these words." in html
    assert "Please wait a little" in html
    draft = client.session[f"letters:draft:{campaign.pk}"]["data"]
    assert draft["personal_message"] != "Keep these words."
    # The council step answers the same way.
    response = choose_council(client, campaign)
    assert response.status_code == 429
    assert "K1A 0B1" in response.content.decode()


def test_sessions_last_hours_not_weeks():
    assert settings.SESSION_COOKIE_AGE <= 24 * 60 * 60
    assert settings.DATA_UPLOAD_MAX_MEMORY_SIZE <= 512 * 1024
