"""Public campaign pages and counts are cached, and organizers' edits show at once."""

import pytest
from django.core.cache import cache
from django.test import Client

from campaigns.selectors import campaign_cache_key
from tests.factories import CampaignFactory, CitationFactory, TalkingPointFactory

pytestmark = pytest.mark.django_db


def _page(campaign, prefix="") -> str:
    # A new client each time: a first-time visitor, served from the shared page cache.
    return Client().get(f"{prefix}/campaigns/{campaign.slug}/").content.decode()


def test_a_new_visitor_gets_a_page_without_session_or_csrf_cookie():
    """Nothing on the page is the visitor's own, so any cache may serve it."""
    campaign = CampaignFactory(title_en="Cached title")
    response = Client().get(f"/campaigns/{campaign.slug}/")
    assert "Cached title" in response.content.decode()
    assert response.cookies == {}
    assert "csrfmiddlewaretoken" not in response.content.decode()
    assert 'method="get"' in response.content.decode()


def test_the_campaign_copy_is_served_from_the_cache():
    campaign = CampaignFactory(title_en="Cached title")
    assert "Cached title" in _page(campaign)
    # Behind the admin's back (no signal): the page still shows the cached copy.
    type(campaign).objects.filter(pk=campaign.pk).update(title_en="Changed behind its back")
    assert "Cached title" in _page(campaign)


@pytest.mark.parametrize("prefix", ["", "/fr"])
def test_a_campaign_edit_shows_at_once(prefix):
    campaign = CampaignFactory(title_en="Old title", title_fr="Ancien titre")
    _page(campaign, prefix)
    campaign.title_en, campaign.title_fr = "New title", "Nouveau titre"
    campaign.save()
    html = _page(campaign, prefix)
    assert ("Nouveau titre" if prefix else "New title") in html
    assert "Old title" not in html and "Ancien titre" not in html


def test_a_citation_or_talking_point_edit_shows_at_once():
    campaign = CampaignFactory()
    citation = CitationFactory(campaign=campaign, title_en="First source")
    point = TalkingPointFactory(campaign=campaign, text_en="First fact.")
    assert "First source" in _page(campaign)
    citation.title_en = "Better source"
    citation.save()
    point.text_en = "Better fact."
    point.save()
    html = _page(campaign)
    assert "Better source" in html and "Better fact." in html
    point.delete()
    assert "Better fact." not in _page(campaign)


def test_closing_a_campaign_removes_the_form_at_once():
    campaign = CampaignFactory()
    assert 'action="/campaigns/' in _page(campaign)
    campaign.status = campaign.Status.CLOSED
    campaign.save()
    html = _page(campaign)
    assert "This campaign is closed." in html


def test_drafts_are_never_served_from_the_cache():
    campaign = CampaignFactory()
    _page(campaign)
    campaign.status = campaign.Status.DRAFT
    campaign.save()
    assert Client().get(f"/campaigns/{campaign.slug}/").status_code == 404
    assert cache.get(campaign_cache_key(campaign.slug)) is None


def test_staff_see_fresh_copy_not_the_cache(staff_client):
    campaign = CampaignFactory(title_en="Public title")
    _page(campaign)
    # Bypass signals, as a bulk update does: the public cache keeps the old copy for its
    # short lifetime, staff see the database.
    type(campaign).objects.filter(pk=campaign.pk).update(title_en="Edited in bulk")
    assert "Public title" in _page(campaign)
    assert "Edited in bulk" in staff_client.get(f"/campaigns/{campaign.slug}/").content.decode()


def test_a_returning_visitor_with_a_session_gets_their_own_page(client):
    campaign = CampaignFactory()
    _page(campaign)  # the page every first-time visitor gets, kept
    client.post(
        f"/campaigns/{campaign.slug}/council/", {"postal_code": "K1A 0B1", "action": "lookup"}
    )
    html = client.get(f"/campaigns/{campaign.slug}/").content.decode()
    assert 'value="K1A 0B1"' in html  # their draft's postal code, not the shared page


def test_a_visitor_with_any_cookie_gets_the_page_rendered_for_them():
    campaign = CampaignFactory(title_en="Cached title")
    _page(campaign)
    # Behind the admin's back, and after the cached campaign has expired: the kept page
    # still shows the old copy to first-time visitors.
    type(campaign).objects.filter(pk=campaign.pk).update(title_en="Changed behind its back")
    cache.delete(campaign_cache_key(campaign.slug))
    assert "Cached title" in _page(campaign)
    visitor = Client()
    visitor.cookies["django_language"] = "en"
    response = visitor.get(f"/campaigns/{campaign.slug}/")
    assert "Changed behind its back" in response.content.decode()
    # Not kept for anyone, this visitor included.
    assert "max-age=0" in response["Cache-Control"]


def test_pages_that_do_not_ask_to_be_kept_are_not(client):
    campaign = CampaignFactory(title_en="Listed title")
    assert "Listed title" in client.get("/privacy/").content.decode()
    type(campaign).objects.filter(pk=campaign.pk).update(title_en="Renamed behind its back")
    assert "Renamed behind its back" in Client().get("/privacy/").content.decode()


def test_counts_json_is_cached_and_cleared_by_a_campaign_edit(client):
    campaign = CampaignFactory(goal=100)
    assert client.get(f"/campaigns/{campaign.slug}/counts.json").json()["goal"] == 100
    campaign.goal = 500
    campaign.save()
    assert client.get(f"/campaigns/{campaign.slug}/counts.json").json()["goal"] == 500


def test_the_letter_step_shows_directory_edits_at_once(client):
    from councils.models import PostcodePrefix, Role
    from tests.factories import MunicipalityFactory, RepresentativeFactory

    campaign = CampaignFactory()
    town = MunicipalityFactory(name="Smallville")
    PostcodePrefix.objects.create(fsa="K0K", municipality=town)
    mayor = RepresentativeFactory(municipality=town, role=Role.MAYOR, name="Mara Mayor")
    client.post(
        f"/campaigns/{campaign.slug}/council/", {"postal_code": "K0K 1A0", "action": "lookup"}
    )
    write = f"/campaigns/{campaign.slug}/write/"
    assert "Mara Mayor" in client.get(write).content.decode()
    RepresentativeFactory(municipality=town, name="Nell Newcomer")
    mayor.active = False
    mayor.save()
    html = client.get(write).content.decode()
    assert "Nell Newcomer" in html
    assert "Mara Mayor" not in html


def test_the_cached_block_list_follows_additions_and_removals():
    from letters.models import BlockedSender
    from letters.selectors import sender_is_blocked

    assert not sender_is_blocked(email="Spam@Example.org", ip="192.0.2.9")
    entry = BlockedSender.objects.create(kind=BlockedSender.Kind.EMAIL, value="spam@example.org")
    assert sender_is_blocked(email="Spam@Example.org")
    BlockedSender.objects.create(kind=BlockedSender.Kind.IP, value="192.0.2.9")
    assert sender_is_blocked(ip="192.0.2.9")
    entry.delete()
    assert not sender_is_blocked(email="spam@example.org")


def test_each_request_gets_its_own_copy_of_the_cached_campaign():
    from django.contrib.auth.models import AnonymousUser

    from campaigns.selectors import campaign_get_for_viewer

    campaign = CampaignFactory(letters_count=3)
    TalkingPointFactory(campaign=campaign)
    first = campaign_get_for_viewer(slug=campaign.slug, user=AnonymousUser())
    first.letters_count = 99
    second = campaign_get_for_viewer(slug=campaign.slug, user=AnonymousUser())
    assert second.letters_count == 3
    assert [p.pk for p in second.talking_points.all()] == [
        p.pk for p in campaign.talking_points.order_by("order", "pk")
    ]
