# ruff: noqa: F811  (pytest fixtures imported from journey_helpers)
"""The campaign page and the letter steps make the same number of queries whatever the number
of citations, talking points and representatives (no N+1)."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.factories import CitationFactory, RepresentativeFactory, TalkingPointFactory
from tests.letters.journey_helpers import (  # noqa: F401
    campaign,
    choose_council,
    council,
    fill_letter,
    journey_settings,
    letter_data,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("journey_settings")]


def _grow_copy(campaign, n):
    for i in range(n):
        citation = CitationFactory(campaign=campaign, order=10 + i)
        TalkingPointFactory(campaign=campaign, citation=citation, order=10 + i)


def _grow_council(council, n):
    for i in range(n):
        RepresentativeFactory(
            municipality=council["municipality"], name=f"Extra {i}", email=f"x{i}@example.org"
        )


def _queries(client, method, url, data=None):
    with CaptureQueriesContext(connection) as captured:
        response = getattr(client, method)(url, data or {})
    assert response.status_code in (200, 302)
    return len(captured)


def test_campaign_page_queries_do_not_grow_with_citations(
    client, campaign, django_assert_max_num_queries
):
    url = f"/campaigns/{campaign.slug}/"
    few = _queries(client, "get", url)
    _grow_copy(campaign, 30)
    client.get("/")  # anything; the cache was cleared by the saves above
    with django_assert_max_num_queries(few):
        response = client.get(url)
    assert response.content.count(b'class="citation-ref"') >= 30


def test_write_and_preview_queries_do_not_grow_with_representatives_or_points(
    client, campaign, council, django_assert_max_num_queries
):
    choose_council(client, campaign)
    write_url = f"/campaigns/{campaign.slug}/write/"
    preview_url = f"/campaigns/{campaign.slug}/preview/"
    data = letter_data(recipients=[council["mayor"].pk])
    client.get(write_url)
    few_write = _queries(client, "get", write_url)
    assert fill_letter(client, campaign, data).status_code == 302
    few_preview = _queries(client, "get", preview_url)

    _grow_council(council, 25)
    _grow_copy(campaign, 25)
    client.get(write_url)
    with django_assert_max_num_queries(few_write):
        response = client.get(write_url)
    assert response.content.count(b"Extra ") >= 25
    assert fill_letter(client, campaign, data).status_code == 302
    with django_assert_max_num_queries(few_preview):
        assert client.get(preview_url).status_code == 200


def test_sending_queries_do_not_grow_with_representatives(
    campaign, council, django_assert_max_num_queries
):
    from django.test import Client

    def send_count(email):
        client = Client()
        choose_council(client, campaign)
        data = letter_data(email=email, recipients=[rep.pk for rep in council["emailable"]])
        assert fill_letter(client, campaign, data).status_code == 302
        return _queries(client, "post", f"/campaigns/{campaign.slug}/preview/")

    few = send_count("one@example.org")
    _grow_council(council, 25)
    client = Client()
    choose_council(client, campaign)
    everyone = list(
        council["municipality"].representatives.exclude(email="").values_list("pk", flat=True)
    )
    data = letter_data(email="two@example.org", recipients=everyone)
    assert fill_letter(client, campaign, data).status_code == 302
    with django_assert_max_num_queries(few):
        response = client.post(f"/campaigns/{campaign.slug}/preview/")
    assert response.status_code == 302
    assert response["Location"].endswith("/thanks/")
