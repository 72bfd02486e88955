"""How fresh a council's contacts are: checked-on dates, stale and post-election filters, and
marking a roster checked by hand."""

from datetime import date, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from councils.models import Municipality
from tests.factories import MunicipalityFactory, RepresentativeFactory

pytestmark = pytest.mark.django_db

URL = "admin:councils_municipality_changelist"


def names(client, **params) -> list[str]:
    response = client.get(reverse(URL), params)
    assert response.status_code == 200
    return sorted(m.name for m in response.context["cl"].result_list)


@pytest.fixture
def councils():
    now = timezone.now()
    return {
        "fresh": MunicipalityFactory(name="Fresh", roster_checked_at=now - timedelta(days=10)),
        "stale": MunicipalityFactory(name="Stale", roster_checked_at=now - timedelta(days=200)),
        "never": MunicipalityFactory(name="Never"),
    }


def test_organizers_filter_stale_rosters_by_the_setting(staff_client, councils, settings):
    settings.DIRECTORY_STALE_DAYS = 180
    assert names(staff_client, stale="yes") == ["Stale"]
    assert names(staff_client, stale="no") == ["Fresh"]
    assert names(staff_client, stale="never") == ["Never"]
    settings.DIRECTORY_STALE_DAYS = 5
    assert names(staff_client, stale="yes") == ["Fresh", "Stale"]
    page = staff_client.get(reverse(URL)).content.decode()
    assert "More than 5 days ago" in page


def test_organizers_see_councils_elected_since_their_roster_was_checked(staff_client, councils):
    today = timezone.localdate()
    Municipality.objects.filter(name="Fresh").update(election_date=today - timedelta(days=30))
    Municipality.objects.filter(name="Stale").update(election_date=today - timedelta(days=30))
    Municipality.objects.filter(name="Never").update(election_date=today + timedelta(days=30))
    MunicipalityFactory(name="Elected, never checked", election_date=date(2022, 10, 24))

    assert names(staff_client, election="since_check") == ["Elected, never checked", "Stale"]


def test_a_roster_checked_on_election_day_is_not_flagged():
    today = timezone.localdate()
    noon = timezone.make_aware(timezone.datetime(today.year, today.month, today.day, 12))
    MunicipalityFactory(name="Same day", election_date=today, roster_checked_at=noon)
    assert not Municipality.objects.election_since_check().exists()


def test_mark_contacts_as_checked_today(staff_client, staff_user, councils):
    stale = councils["stale"]
    person = RepresentativeFactory(municipality=stale, last_verified=None)
    retired = RepresentativeFactory(municipality=stale, active=False, last_verified=None)

    response = staff_client.post(
        reverse(URL),
        {"action": "mark_checked", "_selected_action": [stale.pk, councils["never"].pk]},
        follow=True,
    )

    assert "The contacts of 2 municipalities are marked as checked today." in (
        response.content.decode()
    )
    stale.refresh_from_db()
    assert stale.roster_checked_at.date() == timezone.now().date()
    assert stale.roster_source == "Checked by hand by organizer"
    person.refresh_from_db()
    retired.refresh_from_db()
    assert person.last_verified == stale.roster_checked_at
    assert retired.last_verified is None
    assert names(staff_client, stale="yes") == []


def test_staff_cannot_mark_contacts_checked(client, councils):
    from django.contrib.auth.models import Group

    from letters.groups import STAFF, groups_ensure
    from tests.factories import UserFactory

    groups_ensure()
    member = UserFactory(is_staff=True)
    member.groups.add(Group.objects.get(name=STAFF))
    client.force_login(member)
    client.post(
        reverse(URL), {"action": "mark_checked", "_selected_action": [councils["never"].pk]}
    )
    councils["never"].refresh_from_db()
    assert councils["never"].roster_checked_at is None


def test_the_change_page_shows_the_roster_source_and_election_date(staff_client, councils):
    stale = councils["stale"]
    stale.roster_source = "https://represent.test/representatives/stale/"
    stale.save()
    page = staff_client.get(
        reverse("admin:councils_municipality_change", args=[stale.pk])
    ).content.decode()
    assert "https://represent.test/representatives/stale/" in page
    assert 'name="election_date"' in page
