"""Demand for missing councils: councils without contacts ranked by the residents waiting
for them, per campaign and overall (letters.selectors.councils_waiting, the admin page)."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from letters.models import Letter, canonical_email
from letters.selectors import councils_waiting
from tests.factories import (
    CampaignFactory,
    MunicipalityFactory,
    RepresentativeFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

_serial = iter(range(1_000_000))


def letter(campaign, municipality, *, held=None, confirmed=True, **fields) -> Letter:
    """A letter as letters.services leaves it: confirmed (or not), held for a reason or not."""
    now = timezone.now()
    email = f"resident{next(_serial)}@example.net"
    return Letter.objects.create(
        campaign=campaign,
        municipality=municipality,
        email=email,
        email_canonical=canonical_email(email),
        subject="Please act",
        body="Dear Council",
        status=Letter.Status.CONFIRMED if confirmed else Letter.Status.PENDING_CONFIRMATION,
        confirmed_at=now if confirmed else None,
        held_since=now if held else None,
        hold_reason=held or "",
        **fields,
    )


@pytest.fixture
def demand():
    """Two campaigns. Regina and Saskatoon have nobody to email, Kingston has a roster that
    an election made stale, Ottawa has contacts and letters that went out."""
    cams = CampaignFactory(title_en="Cameras")
    parks = CampaignFactory(title_en="Parks")
    regina = MunicipalityFactory(name="Regina", province="SK", website="https://regina.example")
    saskatoon = MunicipalityFactory(name="Saskatoon", province="SK")
    kingston = MunicipalityFactory(
        name="Kingston", province="ON", roster_checked_at=timezone.now() - timedelta(days=90)
    )
    ottawa = MunicipalityFactory(name="Ottawa", province="ON")
    RepresentativeFactory(municipality=kingston, email="mayor@kingston.example.org")
    RepresentativeFactory(municipality=ottawa, email="mayor@ottawa.example.org")
    # Regina: inactive or bouncing addresses do not count as contacts.
    RepresentativeFactory(municipality=regina, email="gone@regina.example.org", active=False)
    RepresentativeFactory(municipality=regina, email="bounces@regina.example.org", bounce_count=3)

    contacts = Letter.HoldReason.NO_CONTACTS
    for _ in range(3):
        letter(cams, regina, held=contacts)
    letter(cams, regina)  # did not ask to be held: demand, not waiting
    letter(cams, regina, held=contacts, confirmed=False)  # never confirmed: not counted
    letter(cams, regina, held=contacts, released_at=timezone.now())  # went out already
    letter(cams, saskatoon, held=contacts)
    letter(cams, saskatoon, held=contacts, purged_at=timezone.now())  # erased: never sent
    letter(cams, saskatoon, held=contacts, is_test=True)
    for _ in range(5):
        letter(parks, saskatoon, held=contacts)
    letter(cams, kingston, held=Letter.HoldReason.ELECTION)
    letter(cams, kingston)
    letter(cams, kingston)
    letter(cams, ottawa)
    letter(cams, ottawa)
    return {"cams": cams, "parks": parks, "regina": regina, "saskatoon": saskatoon}


def summary(rows) -> list[tuple]:
    return [
        (row["municipality"].name, row["waiting"], row["after_election"], row["letters"])
        for row in rows
    ]


def test_councils_are_ranked_by_residents_waiting_in_a_campaign(demand):
    rows = councils_waiting(campaign=demand["cams"])

    assert summary(rows) == [
        # name, waiting, of which after an election, letters written (counted)
        ("Regina", 3, 0, 5),
        ("Kingston", 1, 1, 3),  # as many waiting: more letters written first
        ("Saskatoon", 1, 0, 2),
    ]
    assert [row["has_contacts"] for row in rows] == [False, True, False]


def test_councils_are_ranked_over_every_campaign(demand):
    rows = councils_waiting()

    assert summary(rows) == [
        ("Saskatoon", 6, 0, 7),
        ("Regina", 3, 0, 5),
        ("Kingston", 1, 1, 3),
    ]


def test_a_council_without_contacts_is_listed_even_with_nobody_waiting():
    campaign = CampaignFactory()
    moose_jaw = MunicipalityFactory(name="Moose Jaw", province="SK")
    letter(campaign, moose_jaw)

    assert summary(councils_waiting(campaign=campaign)) == [("Moose Jaw", 0, 0, 1)]


@pytest.fixture
def staff_client(client):
    client.force_login(UserFactory(username="counter", is_staff=True))
    return client


def test_the_page_shows_the_ranking_for_a_campaign(staff_client, demand):
    url = reverse("admin:letters_councils_waiting", args=[demand["cams"].pk])
    response = staff_client.get(url)

    assert response.status_code == 200
    html = response.content.decode()
    assert "Councils without contacts: Cameras" in html
    assert "5 residents waiting; 3 councils without contacts" in html
    assert html.index(">Regina<") < html.index(">Kingston<") < html.index(">Saskatoon<")
    assert "Ottawa" not in html
    assert 'href="https://regina.example"' in html
    assert "nobody to email" in html and "checked on" in html
    change = reverse("admin:councils_municipality_change", args=[demand["regina"].pk])
    assert f'href="{change}"' in html
    assert f'href="{reverse("admin:letters_councils_waiting")}"' in html  # all campaigns


def test_the_page_shows_the_ranking_over_every_campaign(staff_client, demand):
    response = staff_client.get(reverse("admin:letters_councils_waiting"))

    assert response.status_code == 200
    assert summary(response.context["rows"])[0] == ("Saskatoon", 6, 0, 7)
    assert response.context["waiting"] == 10
    html = response.content.decode()
    assert html.index(">Saskatoon<") < html.index(">Regina<")


def test_the_counts_pages_link_to_it(staff_client, demand):
    index = staff_client.get(reverse("admin:letters_counts_index")).content.decode()
    assert f'href="{reverse("admin:letters_councils_waiting")}"' in index
    detail = staff_client.get(
        reverse("admin:letters_counts", args=[demand["cams"].pk])
    ).content.decode()
    assert f'href="{reverse("admin:letters_councils_waiting", args=[demand["cams"].pk])}"' in (
        detail
    )


def test_the_page_needs_a_staff_login(client, user, demand):
    url = reverse("admin:letters_councils_waiting")
    assert client.get(url).status_code == 302
    client.force_login(user)
    response = client.get(url)
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_the_page_is_404_for_an_unknown_campaign(staff_client):
    url = reverse("admin:letters_councils_waiting", args=[999999])
    assert staff_client.get(url).status_code == 404


def test_the_page_rejects_other_methods(staff_client):
    assert staff_client.post(reverse("admin:letters_councils_waiting")).status_code == 405
