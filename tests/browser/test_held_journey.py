"""A resident of a municipality with no contacts yet writes in a real browser: the council
step, the letter step with the "send my letter when you add my council" option, the preview,
Send, the confirmation link from the email, and a thank-you page with the letter to copy and
the council's website. The letter counts."""

# ruff: noqa: F811  (pytest fixtures imported from journey_helpers)
import os

import pytest
from django.core import mail
from playwright.sync_api import expect

from campaigns.models import Campaign
from councils.models import PostcodePrefix
from letters.models import Letter
from tests.browser.test_journey import assert_accessible, at, confirmation_link
from tests.letters.held_helpers import WEBSITE, no_contacts_council
from tests.letters.journey_helpers import campaign, journey_settings  # noqa: F401

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PERSONAL = "Regina put up cameras at every intersection."


@pytest.fixture
def site(live_server, journey_settings, campaign):
    regina = no_contacts_council()
    PostcodePrefix.objects.create(fsa="S4P", municipality=regina)
    journey_settings.SITE_URL = live_server.url
    mail.outbox = []
    return live_server.url


def test_a_resident_without_council_contacts_writes_a_counted_letter(site, page):
    page.goto(f"{site}/campaigns/cams/")
    page.get_by_label("Postal code").fill("S4P 3Y2")
    page.get_by_role("button", name="Find my council").click()

    expect(page).to_have_url(at(site, "/campaigns/cams/write/"))
    expect(
        page.get_by_text("We have no email address for this council yet. Your letter")
    ).to_be_visible()
    expect(page.get_by_role("link", name="The council's website")).to_have_attribute(
        "href", WEBSITE
    )
    hold = page.get_by_label("Send my letter when you add my council")
    expect(hold).not_to_be_checked()
    hold.check()
    page.get_by_label("Your personal message").fill(PERSONAL)
    page.get_by_label("First name").fill("Jane")
    page.get_by_label("Last name").fill("Doe")
    page.get_by_label("Email").fill("jane@example.org")
    assert_accessible(page, "letter step with the hold option")
    page.get_by_role("button", name="Preview my letter").click()

    expect(page).to_have_url(at(site, "/campaigns/cams/preview/"))
    expect(page.locator(".preview-recipients")).to_have_text(
        "Your council, once we add its contacts"
    )
    expect(page.locator(".preview-body")).to_contain_text(PERSONAL)
    page.get_by_role("button", name="Send").click()

    expect(page).to_have_url(at(site, "/campaigns/cams/thanks/"))
    expect(page.get_by_role("heading", level=1)).to_contain_text("check your inbox")
    letter = Letter.objects.get()
    assert letter.hold_consent and letter.hold_consent_text

    page.goto(confirmation_link(site))
    page.get_by_role("button", name="Send my letter").click()

    expect(page).to_have_url(at(site, "/campaigns/cams/thanks/"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Thank you!")
    expect(page.get_by_text("Your letter to the council of Regina is counted.")).to_be_visible()
    expect(page.get_by_role("heading", name="Your letter, to copy")).to_be_visible()
    expect(page.get_by_label("Letter", exact=True)).to_have_value(letter.body)
    expect(page.get_by_label("Letter", exact=True)).to_contain_text(PERSONAL)
    expect(page.get_by_role("link", name="The website of the council of Regina")).to_have_attribute(
        "href", WEBSITE
    )
    expect(page.locator("[data-counter]")).to_contain_text("1 letter sent")
    assert_accessible(page, "thank-you page with the letter to copy")

    letter.refresh_from_db()
    assert letter.status == Letter.Status.CONFIRMED
    assert letter.hold_reason == Letter.HoldReason.NO_CONTACTS
    assert Campaign.objects.get(slug="cams").letters_count == 1
    assert mail.outbox[-1].subject == "Your letter to the council of Regina is waiting"
