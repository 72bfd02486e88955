# ruff: noqa: F811  (pytest fixtures imported from journey_helpers)
"""Every state-changing POST needs a CSRF token; the campaign page's lookup is a GET and needs none."""

import re

import pytest
from django.test import Client

from tests.letters.delivery_helpers import make_letter
from tests.letters.journey_helpers import (  # noqa: F401
    campaign,
    council,
    journey_settings,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("journey_settings")]


@pytest.fixture
def strict():
    return Client(enforce_csrf_checks=True)


def test_it_rejects_posts_without_a_token(strict, campaign, council, staff_user):
    letter = make_letter(campaign=campaign)
    urls = [
        f"/campaigns/{campaign.slug}/council/",
        f"/campaigns/{campaign.slug}/write/",
        f"/campaigns/{campaign.slug}/preview/",
        f"/campaigns/{campaign.slug}/resend/",
        f"/fr/campaigns/{campaign.slug}/council/",
        f"/letters/confirm/{letter.confirmation_token}/resend/",
        f"/letters/{letter.token}/delete/",
        "/admin/login/",
    ]
    for url in urls:
        response = strict.post(url, {"postal_code": "K1A 0B1", "username": "organizer"})
        assert response.status_code == 403, url
    letter.refresh_from_db()
    assert letter.purged_at is None


def test_it_rejects_a_forged_token(strict, campaign):
    strict.get(f"/campaigns/{campaign.slug}/")
    response = strict.post(
        f"/campaigns/{campaign.slug}/council/",
        {"postal_code": "K1A 0B1", "action": "lookup", "csrfmiddlewaretoken": "x" * 64},
    )
    assert response.status_code == 403


def test_the_lookup_needs_no_token_and_the_picker_carries_one(campaign, council):
    """The campaign page's form is a GET (a lookup), so the page carries no token any cache
    could share; the picker, which writes the resident's choice, is a POST with its own."""
    client = Client(enforce_csrf_checks=True)
    html = client.get(f"/campaigns/{campaign.slug}/").content.decode()
    assert "csrfmiddlewaretoken" not in html
    response = client.get(f"/campaigns/{campaign.slug}/council/", {"postal_code": "X0X 0X0"})
    assert response.status_code == 200
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', response.content.decode())
    response = client.post(
        f"/campaigns/{campaign.slug}/council/",
        {
            "action": "pick",
            "municipality": str(council["municipality"].pk),
            "csrfmiddlewaretoken": token.group(1),
        },
    )
    assert response.status_code == 302
    assert response["Location"].endswith("/write/")
