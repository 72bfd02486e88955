# ruff: noqa: F811  (pytest fixtures imported from journey_helpers)
"""Open redirects on next, and IDOR on the letter's token URLs."""

import pytest
from django.test import Client

from letters.models import Letter
from tests.letters.delivery_helpers import make_letter
from tests.letters.journey_helpers import (  # noqa: F401
    campaign,
    council,
    journey_settings,
    letter_data,
    write_and_send,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("journey_settings")]

EVIL = [
    "https://evil.example.net/",
    "//evil.example.net/",
    "/\\evil.example.net/",
    "\\\\evil.example.net",
    "https:evil.example.net",
    "javascript:alert(1)",
    " //evil.example.net",
]


@pytest.mark.parametrize("target", EVIL)
def test_admin_login_never_redirects_off_site(client, staff_user, target):
    response = client.post(
        "/admin/login/?next=" + target,
        {"username": "organizer", "password": "correct horse battery staple", "next": target},
    )
    assert response.status_code == 302
    assert "evil" not in response["Location"]
    assert not response["Location"].startswith("javascript")


@pytest.mark.parametrize("target", EVIL)
def test_admin_logout_never_redirects_off_site(staff_client, target):
    response = staff_client.post("/admin/logout/?next=" + target, {"next": target})
    assert response.status_code in (200, 302)
    assert "evil" not in response.get("Location", "")


@pytest.mark.parametrize("target", EVIL)
def test_our_views_ignore_next(client, campaign, target):
    letter = make_letter(campaign=campaign)
    for url in (
        f"/letters/{letter.token}/?next={target}",
        f"/letters/confirm/{letter.confirmation_token}/?next={target}",
        f"/campaigns/{campaign.slug}/?next={target}",
        f"/?next={target}",
    ):
        response = client.get(url)
        assert "evil" not in response.get("Location", ""), url
    response = client.post(f"/letters/confirm/{letter.confirmation_token}/?next={target}")
    assert "evil" not in response.get("Location", "")
    response = client.post(f"/letters/{letter.token}/delete/?next={target}", {"next": target})
    assert response["Location"] == f"/letters/{letter.token}/delete/"


def test_tokens_are_long_random_and_distinct(campaign):
    letters = [make_letter(campaign=campaign, email=f"r{n}@example.net") for n in range(20)]
    tokens = {letter.token for letter in letters} | {l.confirmation_token for l in letters}
    assert len(tokens) == 40
    assert all(len(token) >= 43 for token in tokens)  # 256 bits, URL-safe base64


def test_another_residents_letter_is_unreachable(campaign, council):
    mine = make_letter(campaign=campaign, email="me@example.net")
    theirs = make_letter(
        campaign=campaign, email="them@example.net", street_address="1 Theodora Lane"
    )
    client = Client()
    mine_page = client.get(f"/letters/{mine.token}/").content.decode()
    assert "Theodora" not in mine_page and "them@example.net" not in mine_page
    near_misses = [
        theirs.token[:-1] + ("A" if theirs.token[-1] != "A" else "B"),
        theirs.token.upper(),
        theirs.token[:20],
        str(theirs.pk),
        theirs.confirmation_token,  # a confirmation token is not a status token
        "../" + mine.token,
        "%00",
    ]
    for token in near_misses:
        assert client.get(f"/letters/{token}/").status_code == 404, token
        assert client.get(f"/letters/{token}/delete/").status_code == 404, token
        assert client.post(f"/letters/{token}/delete/").status_code == 404, token
    assert client.get(f"/letters/confirm/{theirs.token}/").status_code == 404
    theirs.refresh_from_db()
    assert theirs.purged_at is None and theirs.email == "them@example.net"


def test_the_thanks_page_shows_only_your_own_letter(campaign, council):
    mine = Client()
    write_and_send(mine, campaign, letter_data(recipients=[council["mayor"].pk]))
    letter = Letter.objects.get()
    stranger = Client()
    html = stranger.get(f"/campaigns/{campaign.slug}/thanks/").content.decode()
    assert letter.email not in html
    assert letter.token not in html
