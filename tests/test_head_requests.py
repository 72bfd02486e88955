"""HEAD (link checkers, uptime monitors, crawlers) on every GET-only public page: the GET's
status and headers, no body. The write methods stay refused."""

import pytest

from campaigns.models import Campaign
from tests.factories import CampaignFactory
from tests.letters.delivery_helpers import make_letter

pytestmark = pytest.mark.django_db


@pytest.fixture
def pages(settings):
    settings.CELERY_BROKER_URL = "memory://"  # healthz: eager, so healthy
    campaign = CampaignFactory(slug="cams")
    letter = make_letter(campaign=campaign, recipients=1)
    return {
        "campaign": "/campaigns/cams/",
        "campaign in French": "/fr/campaigns/cams/",
        "thanks": "/campaigns/cams/thanks/",
        "status": f"/letters/{letter.token}/",
        "counts.json": "/campaigns/cams/counts.json",
        "healthz": "/healthz",
        "privacy": "/privacy/",
    }


@pytest.mark.parametrize(
    "page",
    ["campaign", "campaign in French", "thanks", "status", "counts.json", "healthz", "privacy"],
)
def test_head_answers_like_get_without_a_body(client, pages, page):
    url = pages[page]
    got = client.get(url)
    head = client.head(url)

    assert got.status_code == 200
    assert head.status_code == 200
    assert head.content == b""
    assert head["Content-Type"] == got["Content-Type"]


def test_head_on_the_home_page_answers_like_get(client):
    CampaignFactory()
    CampaignFactory()  # two campaigns: the home page lists them (one would redirect)
    head = client.head("/")
    assert head.status_code == 200
    assert head.content == b""


def test_head_on_a_draft_campaign_is_404_like_get(client):
    CampaignFactory(slug="draft", status=Campaign.Status.DRAFT)
    assert client.head("/campaigns/draft/").status_code == 404


@pytest.mark.parametrize("url", ["/campaigns/cams/", "/campaigns/cams/thanks/", "/healthz", "/"])
def test_write_methods_are_still_refused(client, pages, url):
    assert client.put(url).status_code == 405
    assert client.delete(url).status_code == 405
