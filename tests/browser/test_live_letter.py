"""The letter step shows the letter around the personal message, updated as the resident
types (static/js/letter-preview.js); the kind near-duplicate warning on the preview."""

# ruff: noqa: F811  (pytest fixtures imported from journey_helpers)
import os

import pytest
from django.conf import settings
from django.core import mail
from playwright.sync_api import expect

from letters import services
from tests.browser.test_journey import assert_accessible, at
from tests.letters.journey_helpers import campaign, council, journey_settings  # noqa: F401

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

STORY = "My daughter walks past the new cameras at the library every day."


@pytest.fixture
def site(live_server, journey_settings, campaign, council):
    campaign.letter_template_en = (
        "{salutation},\n\nI live in {municipality}.\n\n{personal_part}\n\nI ask council to act."
    )
    campaign.save()
    journey_settings.SITE_URL = live_server.url
    mail.outbox = []
    return live_server.url


def test_the_letter_fills_in_as_the_resident_types(site, page):
    page.goto(f"{site}/campaigns/cams/")
    page.get_by_label("Postal code").fill("K1A 0B1")
    page.get_by_role("button", name="Find my council").click()
    expect(page).to_have_url(at(site, "/campaigns/cams/write/"))

    live = page.locator("[data-live-letter]")
    slot = live.locator("[data-personal-slot]")
    expect(live).to_be_visible()
    expect(slot).to_have_text("[your own words]")
    expect(slot).to_have_class("personal-slot personal-slot-empty")

    field = page.get_by_label("Your personal message")
    field.press_sequentially("My daughter walks")
    expect(slot).to_have_text("My daughter walks")
    field.fill(STORY)
    expect(slot).to_have_text(STORY)
    expect(slot).to_have_class("personal-slot")
    sheet = live.locator("[data-live-sheet]")
    text = sheet.inner_text()
    assert text.index("I live in Ottawa.") < text.index(STORY) < text.index("I ask council")
    assert_accessible(page, "letter step with the live letter")

    # Emptied, the hint comes back.
    field.fill("   ")
    expect(slot).to_have_text("[your own words]")


def test_the_name_and_street_address_fill_in_as_they_are_typed(site, page):
    page.goto(f"{site}/campaigns/cams/")
    page.get_by_label("Postal code").fill("K1A 0B1")
    page.get_by_role("button", name="Find my council").click()
    sheet = page.locator("[data-live-sheet]")
    expect(sheet).to_contain_text("Sincerely,\n\n[your name]\nK1A 0B1, Ottawa")

    page.get_by_label("First name").press_sequentially("Jane")
    expect(sheet).to_contain_text("Sincerely,\n\nJane\nK1A 0B1, Ottawa")
    page.get_by_label("Last name").fill("  Doe  ")
    page.get_by_label("Street address (optional)").fill("12 Main Street")
    expect(sheet).to_contain_text("Sincerely,\n\nJane Doe\n12 Main Street\nK1A 0B1, Ottawa")

    # Emptied, the address's line goes; the name's hint comes back.
    page.get_by_label("Street address (optional)").fill("")
    page.get_by_label("First name").fill("")
    page.get_by_label("Last name").fill("")
    expect(sheet).to_contain_text("Sincerely,\n\n[your name]\nK1A 0B1, Ottawa")


def test_without_javascript_the_preview_shows_the_letter(site, browser):
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(f"{site}/campaigns/cams/")
    page.get_by_label("Postal code").fill("K1A 0B1")
    page.get_by_role("button", name="Find my council").click()
    expect(page.locator("[data-live-letter]")).to_be_hidden()
    page.get_by_label("Your personal message").fill(STORY)
    page.get_by_label("First name").fill("Jane")
    page.get_by_label("Last name").fill("Doe")
    page.get_by_label("Email").fill("jane@example.org")
    page.get_by_role("button", name="Preview my letter").click()
    expect(page).to_have_url(at(site, "/campaigns/cams/preview/"))
    text = page.locator(".preview-body").inner_text()
    assert text.index("I live in Ottawa.") < text.index(STORY) < text.index("I ask council")
    context.close()


def test_a_copied_message_gets_a_kind_warning_and_can_still_be_sent(site, page, campaign, council):
    campaign.requires_confirmation = False
    campaign.save()
    for n in range(settings.LETTERS_NEAR_COPIES_TO_WARN):  # a flood: one letter never warns
        services.letter_submit(
            campaign=campaign,
            municipality=council["municipality"],
            representative_ids=[rep.pk for rep in council["emailable"]],
            first_name="First",
            last_name="Writer",
            email=f"writer{n}@example.org",
            postal_code="K1A 0B1",
            language="en",
            personal_message=STORY,
        )
    page.goto(f"{site}/campaigns/cams/")
    page.get_by_label("Postal code").fill("K1A 0B1")
    page.get_by_role("button", name="Find my council").click()
    page.get_by_label("Your personal message").fill(STORY.upper())
    page.get_by_label("First name").fill("Jane")
    page.get_by_label("Last name").fill("Doe")
    page.get_by_label("Email").fill("jane@example.org")
    page.get_by_role("button", name="Preview my letter").click()
    warning = page.get_by_role("region", name="Your personal message is much like others")
    expect(warning).to_be_visible()
    assert_accessible(page, "preview with the near-duplicate warning")
    page.get_by_role("button", name="Send").click()
    expect(page).to_have_url(at(site, "/campaigns/cams/thanks/"))


def test_the_greeting_and_talking_points_follow_the_boxes_ticked(site, page, campaign):
    # A letter longer than its box: a point ticked is scrolled into view.
    campaign.letter_template_en += "\n\n" + "\n\n".join(
        f"Paragraph {n} of what council should know." for n in range(30)
    )
    campaign.save()
    page.goto(f"{site}/campaigns/cams/")
    page.get_by_label("Postal code").fill("K1A 0B1")
    page.get_by_role("button", name="Find my council").click()
    sheet = page.locator("[data-live-sheet]")
    expect(sheet).to_contain_text("Dear Mayor and Council,")
    page.get_by_label("Your personal message").fill(STORY)
    page.get_by_label("First name").fill("Jane")

    # Only Cora left ticked: the server composes the letter again, the resident's words
    # and name are put back in.
    page.get_by_label("Mara Mayor").uncheck()
    page.get_by_label("Carl Councillor").uncheck()
    expect(sheet).to_contain_text("Dear Cora Councillor,")
    expect(sheet).not_to_contain_text("Dear Mayor and Council")
    expect(sheet.locator("[data-personal-slot]")).to_have_text(STORY)
    expect(sheet).to_contain_text("Sincerely,\n\nJane\nK1A 0B1, Ottawa")

    # A talking point, with its numbered source.
    page.get_by_label("Four U.S. cities ban it.").check()
    point = sheet.locator(f'[data-point="{campaign.point.pk}"]')
    expect(point).to_have_text("- Four U.S. cities ban it. [1]")
    expect(point).to_have_class("live-point live-point-added")
    expect(point).to_be_in_viewport()
    expect(sheet).to_contain_text("[1] Berkeley bans it")
    text = sheet.inner_text()
    assert text.index("Dear Cora Councillor,") < text.index(STORY) < text.index("[1] Berkeley")

    # The swapped letter still follows typing.
    page.get_by_label("Your personal message").fill("The library is a public place.")
    expect(sheet.locator("[data-personal-slot]")).to_have_text("The library is a public place.")
    page.get_by_label("Four U.S. cities ban it.").uncheck()
    expect(sheet).not_to_contain_text("Berkeley bans it")
    assert_accessible(page, "letter step with the live letter recomposed")
