# ruff: noqa: F811  (pytest fixtures imported from journey_helpers)
"""The recipient step says when the council's contacts were last checked."""

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from tests.letters.journey_helpers import (  # noqa: F401
    campaign,
    choose_council,
    council,
    journey_settings,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("journey_settings")]


def write_page(client, campaign, prefix="") -> str:
    choose_council(client, campaign, prefix=prefix)
    response = client.get(f"{prefix}/campaigns/{campaign.slug}/write/")
    assert response.status_code == 200
    return response.content.decode()


def test_the_recipient_step_says_when_the_contacts_were_checked(client, campaign, council):
    ottawa = council["municipality"]
    ottawa.roster_checked_at = datetime(2026, 11, 12, 15, 0, tzinfo=ZoneInfo("America/Toronto"))
    ottawa.save()

    assert "Contacts checked on 12 November 2026" in write_page(client, campaign)


def test_the_checked_on_date_is_written_the_french_way(client, campaign, council, french_catalog):
    french_catalog("Contacts checked on %(date)s", "Coordonnées vérifiées le %(date)s")
    ottawa = council["municipality"]
    ottawa.roster_checked_at = datetime(2026, 11, 12, 15, 0, tzinfo=ZoneInfo("America/Toronto"))
    ottawa.save()

    assert "Coordonnées vérifiées le 12 novembre 2026" in write_page(client, campaign, "/fr")


def test_a_roster_never_checked_shows_no_date(client, campaign, council):
    assert "Contacts checked on" not in write_page(client, campaign)
