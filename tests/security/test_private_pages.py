# ruff: noqa: F811  (pytest fixtures imported from journey_helpers)
"""A resident's private pages (status, delete, confirmation, thanks) carry their letter and
their links: no browser or shared cache may keep them (Cache-Control: no-store)."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from letters.models import Letter
from tests.letters.journey_helpers import (  # noqa: F401
    campaign,
    council,
    journey_settings,
    letter_data,
    write_and_send,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("journey_settings")]


@pytest.fixture
def pending(client, campaign, council, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = write_and_send(client, campaign, letter_data(recipients=[council["mayor"].pk]))
    assert response.status_code == 302
    return Letter.objects.get()


def assert_never_stored(response) -> None:
    directives = {part.strip() for part in response["Cache-Control"].split(",")}
    assert {"no-store", "no-cache", "must-revalidate", "private"} <= directives
    assert response.has_header("Expires")


def test_the_thanks_page_is_never_stored(client, pending, campaign):
    response = client.get(f"/campaigns/{campaign.slug}/thanks/")
    assert response.status_code == 200
    assert_never_stored(response)


def test_the_confirmation_page_is_never_stored(client, pending):
    response = client.get(f"/letters/confirm/{pending.confirmation_token}/")
    assert response.status_code == 200
    assert_never_stored(response)


def test_an_expired_confirmation_page_is_never_stored(client, pending):
    later = timezone.now() + timedelta(days=60)
    with time_machine.travel(later):
        response = client.get(f"/letters/confirm/{pending.confirmation_token}/")
    assert response.status_code == 200
    assert "expired" in response.content.decode().lower()
    assert_never_stored(response)


def test_the_status_page_is_never_stored(client, pending):
    response = client.get(f"/letters/{pending.token}/")
    assert response.status_code == 200
    assert_never_stored(response)


def test_the_delete_page_is_never_stored(client, pending):
    response = client.get(f"/letters/{pending.token}/delete/")
    assert response.status_code == 200
    assert_never_stored(response)


def test_the_french_pages_are_never_stored_either(client, pending):
    assert_never_stored(client.get(f"/fr/letters/{pending.token}/"))
    assert_never_stored(client.get(f"/fr/letters/confirm/{pending.confirmation_token}/"))


def test_the_public_campaign_page_may_still_be_cached(client, campaign):
    response = client.get(f"/campaigns/{campaign.slug}/")
    assert "no-store" not in response.get("Cache-Control", "")
