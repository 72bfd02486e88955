# ruff: noqa: F811  (pytest fixtures imported from journey_helpers)
"""Every state-changing POST needs a CSRF token; the cached campaign page hands out valid ones."""

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


@pytest.mark.parametrize("visit", [1, 2])
def test_the_cached_page_gives_each_visitor_a_working_token(campaign, council, visit):
    if visit == 2:
        Client().get(f"/campaigns/{campaign.slug}/")  # someone else filled the cache
    client = Client(enforce_csrf_checks=True)
    html = client.get(f"/campaigns/{campaign.slug}/").content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html).group(1)
    response = client.post(
        f"/campaigns/{campaign.slug}/council/",
        {"postal_code": "K1A 0B1", "action": "lookup", "csrfmiddlewaretoken": token},
    )
    assert response.status_code == 302
    assert response["Location"].endswith("/write/")
