import pytest
from django.core.cache import cache

from campaigns.caching import page_cache_clear
from campaigns.models import Campaign
from letters.selectors import counts_cache_key
from tests.letters.counts_data import build_counts_data, local, make_letter

pytestmark = pytest.mark.django_db

URL = "/campaigns/facial/counts.json"


@pytest.fixture
def data():
    return build_counts_data()


def test_it_returns_total_goal_and_provinces(client, data):
    response = client.get(URL)

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response.json() == {
        "campaign": "facial",
        "total": 8,
        "goal": 50,
        "provinces": {"ON": 7, "QC": 1},
    }


def test_it_may_be_cached_and_embedded_anywhere(client, data):
    response = client.get(URL)

    assert "public" in response["Cache-Control"]
    assert "max-age=60" in response["Cache-Control"]
    assert response["Access-Control-Allow-Origin"] == "*"


def test_it_serves_cached_counts_for_a_short_while(client, data):
    assert client.get(URL).json()["total"] == 8
    make_letter(campaign=data.campaign, municipality=data.montreal, confirmed_at=local(23, 9))

    assert client.get(URL).json()["total"] == 8

    # A minute later: the counts and the response the site cache kept have both expired.
    cache.delete(counts_cache_key("facial"))
    page_cache_clear()
    body = client.get(URL).json()
    assert body["total"] == 9
    assert body["provinces"] == {"ON": 7, "QC": 2}


def test_it_counts_zero_for_a_campaign_without_letters(client, data):
    data.other_campaign.letters.all().delete()

    assert client.get("/campaigns/other/counts.json").json() == {
        "campaign": "other",
        "total": 0,
        "goal": data.other_campaign.goal,
        "provinces": {},
    }


def test_it_returns_404_for_a_draft_campaign(client, data):
    Campaign.objects.filter(pk=data.campaign.pk).update(status=Campaign.Status.DRAFT)

    assert client.get(URL).status_code == 404


def test_it_serves_a_closed_campaign(client, data):
    Campaign.objects.filter(pk=data.campaign.pk).update(status=Campaign.Status.CLOSED)

    assert client.get(URL).json()["total"] == 8


def test_it_returns_404_for_an_unknown_campaign(client, data):
    assert client.get("/campaigns/nope/counts.json").status_code == 404


def test_it_has_no_language_prefix(client, data):
    assert client.get("/fr/campaigns/facial/counts.json").status_code == 404


def test_it_rejects_post(client, data):
    assert client.post(URL).status_code == 405


def test_the_campaign_page_counter_refreshes_from_it(client, data):
    html = client.get("/campaigns/facial/").content.decode()
    assert f'data-counts-url="{URL}"' in html
    assert "/static/js/counts.js" in html
