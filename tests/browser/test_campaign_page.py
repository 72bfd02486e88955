"""A resident opens the campaign page in a real browser, in English and in French."""

import os

import pytest

from tests.factories import CampaignFactory, CitationFactory, TalkingPointFactory

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def campaign():
    campaign = CampaignFactory(
        slug="cams",
        title_en="Say NO to facial recognition",
        title_fr="Dites NON à la reconnaissance faciale",
        press_name="Rosa Addario",
    )
    citation = CitationFactory(campaign=campaign, title_en="Berkeley bans it", publisher="Gizmodo")
    TalkingPointFactory(
        campaign=campaign,
        text_en="Four U.S. cities ban it.",
        text_fr="Quatre villes l'interdisent.",
        citation=citation,
    )
    return campaign


def test_a_resident_reads_the_campaign_in_english_then_french(live_server, page, campaign):
    third_party = []
    page.on(
        "request",
        lambda request: (
            third_party.append(request.url)
            if not request.url.startswith(live_server.url) and not request.url.startswith("data:")
            else None
        ),
    )
    page.goto(f"{live_server.url}/campaigns/cams/")
    # Keyboard users get a skip link first.
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent").strip() == "Skip to main content"

    assert page.locator("h1").inner_text() == "Say NO to facial recognition"
    assert page.locator("html").get_attribute("lang") == "en"
    assert "Four U.S. cities ban it." in page.locator(".talking-points").inner_text()
    assert page.get_by_role("heading", name="Sources").is_visible()
    assert "Rosa Addario" in page.locator(".press").inner_text()
    # Bootstrap is served by us and applied (the container has its max-width rule).
    assert page.evaluate("getComputedStyle(document.querySelector('main')).paddingTop") != "0px"

    # The citation marker jumps to the numbered source.
    page.get_by_role("link", name="Source 1").click()
    assert page.url.endswith("#source-1")

    page.get_by_role("link", name="Français").click()
    page.wait_for_url(f"{live_server.url}/fr/campaigns/cams/")
    assert page.locator("h1").inner_text() == "Dites NON à la reconnaissance faciale"
    assert page.locator("html").get_attribute("lang") == "fr"
    assert "Quatre villes l'interdisent." in page.locator(".talking-points").inner_text()
    assert third_party == []
