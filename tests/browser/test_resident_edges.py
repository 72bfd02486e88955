"""The rough edges a new user found (issue 14), walked in a real browser: a phone's first
screen, a French browser, a message typed past its limit, previews that match what is sent,
and a campaign that closes while a resident writes."""

# ruff: noqa: F811  (pytest fixtures imported from journey_helpers)
import os
import re

import pytest
from django.core import mail
from django.test import Client
from playwright.sync_api import expect

from campaigns.models import Campaign
from letters.models import Letter
from tests.browser.test_journey import assert_accessible, at
from tests.letters.journey_helpers import campaign, council, journey_settings  # noqa: F401

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 844}


@pytest.fixture
def site(live_server, journey_settings, campaign, council):
    journey_settings.SITE_URL = live_server.url
    mail.outbox = []
    return live_server.url


@pytest.fixture
def phone(browser):
    context = browser.new_context(
        viewport=PHONE, device_scale_factor=3, is_mobile=True, has_touch=True
    )
    yield context.new_page()
    context.close()


@pytest.mark.parametrize("prefix", ["", "/fr"])
def test_a_phone_shows_the_form_on_its_first_screen_without_sideways_scroll(
    site, phone, campaign, prefix
):
    # The real campaign's copy is long: the form must not sit below it.
    Campaign.objects.filter(pk=campaign.pk).update(
        summary_en="Police services in Canada are already using facial recognition, yet our "
        "privacy laws say nothing specific about it. Ask your city council to ban municipal "
        "use of the technology, and help push the federal government to act.",
        body_en="## Why it matters\n\n" + "A long paragraph of reasons. " * 200,
        body_fr="## Pourquoi c'est important\n\n" + "Un long paragraphe de raisons. " * 200,
    )
    phone.goto(f"{site}{prefix}/campaigns/cams/")

    assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    postal = phone.locator("#id_postal_code")
    box = postal.bounding_box()
    assert box["y"] + box["height"] <= PHONE["height"], box
    expect(phone.locator("#letter-form-heading")).to_be_in_viewport()
    assert_accessible(phone, f"campaign page on a phone ({prefix or 'en'})")

    postal.fill("K1A 0B1")
    postal.press("Enter")
    expect(phone).to_have_url(at(site, f"{prefix}/campaigns/cams/write/"))
    assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    assert_accessible(phone, f"letter step on a phone ({prefix or 'en'})")


def test_a_french_browser_lands_on_the_french_page_until_it_chooses_english(site, browser):
    context = browser.new_context(locale="fr-CA")
    page = context.new_page()

    page.goto(f"{site}/")
    expect(page).to_have_url(f"{site}/fr/campaigns/cams/")
    expect(page.locator("html")).to_have_attribute("lang", "fr")

    # The language switch is a choice that wins over the browser's language from then on.
    page.get_by_role("link", name="English").click()
    expect(page).to_have_url(f"{site}/campaigns/cams/")
    page.goto(f"{site}/")
    expect(page).to_have_url(f"{site}/campaigns/cams/")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    context.close()


def test_a_message_typed_past_its_limit_is_kept_and_refused_with_a_count(site, page):
    page.goto(f"{site}/campaigns/cams/")
    page.get_by_label("Postal code").fill("K1A 0B1")
    page.get_by_role("button", name="Find my council").click()
    expect(page).to_have_url(at(site, "/campaigns/cams/write/"))

    message = page.get_by_label("Your personal message")
    counter = page.locator("#id_personal_message_count")
    expect(counter).to_have_text("You have 2,000 characters remaining")
    text = ("My street has three new cameras. " * 70)[:2100]
    message.fill(text)
    # Nothing cuts the text: the count says how far over it is, as people type.
    expect(message).to_have_value(text)
    expect(counter).to_have_text("You have 100 characters too many")
    assert "id_personal_message_count" in message.get_attribute("aria-describedby")
    page.get_by_label("First name").fill("Jane")
    page.get_by_label("Last name").fill("Doe")
    page.get_by_label("Email").fill("jane@example.org")
    page.get_by_role("button", name="Preview my letter").click()

    summary = page.locator("#error-summary")
    expect(summary).to_be_focused()
    expect(summary.get_by_role("link")).to_have_text(
        "Your personal message must be 2,000 characters or fewer. You have 100 characters too many."
    )
    expect(message).to_have_value(text.strip())
    expect(counter).to_have_text(re.compile(r"You have 10\d characters too many"))
    assert_accessible(page, "message over its limit")

    message.fill(text[:2000])
    expect(counter).to_have_text("You have 0 characters remaining")
    page.get_by_role("button", name="Preview my letter").click()
    expect(page).to_have_url(at(site, "/campaigns/cams/preview/"))


def test_the_previews_show_what_is_sent(site, page, browser, campaign, staff_user):
    Campaign.objects.filter(pk=campaign.pk).update(
        letter_subjects_en="Please act in {municipality}\nA request from {municipality}",
        requires_confirmation=False,
    )
    page.goto(f"{site}/campaigns/cams/")
    subjects = page.locator(".letter-subjects li")
    expect(subjects).to_have_text(
        ["Please act in [your municipality]", "A request from [your municipality]"]
    )
    # The sample greets the whole council, as the letter to everyone ticked does.
    expect(page.locator(".letter-sheet").first).to_contain_text("Dear Mayor and Council,")

    page.get_by_label("Postal code").fill("K1A 0B1")
    page.get_by_role("button", name="Find my council").click()
    page.get_by_label("First name").fill("Jane")
    page.get_by_label("Last name").fill("Doe")
    page.get_by_label("Email").fill("jane@example.org")
    page.get_by_role("button", name="Preview my letter").click()
    expect(page).to_have_url(at(site, "/campaigns/cams/preview/"))
    subject = page.locator(".preview-subject").inner_text()
    body = page.locator(".preview-body").inner_text()
    assert subject in ("Please act in Ottawa", "A request from Ottawa")
    assert body.startswith("Dear Mayor and Council,")
    page.get_by_role("button", name="Send").click()
    expect(page).to_have_url(at(site, "/campaigns/cams/thanks/"))

    letters = [m for m in mail.outbox if "mayor@ottawa.example.org" in " ".join(m.to)]
    assert letters and letters[0].subject == subject
    assert letters[0].body.startswith(body)

    # The organizer's test send is the letter the admin's preview shows, marked [TEST] once.
    mail.outbox = []
    staff_user.email = "organizer@example.org"
    staff_user.save()
    organizer = Client()
    organizer.force_login(staff_user)
    context = browser.new_context()
    context.add_cookies(
        [{"name": "sessionid", "value": organizer.cookies["sessionid"].value, "url": site}]
    )
    admin = context.new_page()
    ottawa = Letter.objects.get().municipality
    admin.goto(
        f"{site}/admin/letters/letter/preview/{campaign.pk}/?municipality={ottawa.pk}&language=en"
    )
    preview_subject = admin.locator("p.preview-subject").inner_text()
    preview_body = admin.locator("div.preview-body").inner_text()
    assert preview_body.startswith("Dear Mayor and Council,")
    admin.get_by_role("button", name="Send a test letter to me").click()
    expect(admin.locator(".messagelist")).to_contain_text("A test letter is on its way")
    (test_letter,) = mail.outbox
    assert test_letter.to == ["organizer@example.org"]
    assert test_letter.subject == f"[TEST] {preview_subject}"
    assert test_letter.body.startswith(preview_body)
    context.close()


def test_a_resident_writing_when_the_campaign_closes_gets_their_letter_back(site, page, campaign):
    page.goto(f"{site}/campaigns/cams/")
    page.get_by_label("Postal code").fill("K1A 0B1")
    page.get_by_role("button", name="Find my council").click()
    words = "Three new cameras watch the bus stop by my school."
    page.get_by_label("Your personal message").fill(words)
    page.get_by_label("First name").fill("Jane")

    campaign.status = Campaign.Status.CLOSED
    campaign.save()
    page.get_by_role("button", name="Preview my letter").click()

    expect(page).to_have_url(at(site, "/campaigns/cams/"))
    expect(page.get_by_role("heading", name="Your letter was not sent")).to_be_visible()
    expect(page.get_by_text("This campaign closed before you sent your letter")).to_be_visible()
    letter = page.get_by_label("Letter", exact=True)
    expect(letter).to_have_value(re.compile(re.escape(words)))
    expect(page.get_by_role("link", name="mayor@ottawa.example.org")).to_be_visible()
    expect(page.locator("#id_postal_code")).to_have_count(0)
    assert_accessible(page, "closed campaign with the resident's letter")
    assert not Letter.objects.exists()


def _luminance(css_color: str) -> float:
    red, green, blue = (int(part) / 255 for part in re.findall(r"\d+", css_color)[:3])

    def channel(value):
        return value / 12.92 if value <= 0.03928 else ((value + 0.055) / 1.055) ** 2.4

    return 0.2126 * channel(red) + 0.7152 * channel(green) + 0.0722 * channel(blue)


def contrast(first: str, second: str) -> float:
    lighter, darker = sorted((_luminance(first), _luminance(second)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def test_unticked_boxes_and_the_empty_goal_bar_can_be_seen(site, page):
    missing = []
    page.on(
        "response",
        lambda response: missing.append(response.url) if response.status == 404 else None,
    )
    page.goto(f"{site}/campaigns/cams/")
    # The bar at 0 still shows its track: an edge at 3:1 or more against the page (WCAG 1.4.11).
    bar = page.locator("progress.goal-meter").first
    assert bar.get_attribute("value") == "0"
    edge = bar.evaluate("element => getComputedStyle(element).borderTopColor")
    assert contrast(edge, "rgb(255, 255, 255)") >= 3, edge
    assert page.evaluate("fetch('/favicon.ico').then(response => response.status)") == 200

    page.get_by_label("Postal code").fill("K1A 0B1")
    page.get_by_role("button", name="Find my council").click()
    box = page.get_by_label("Keep me updated about this campaign")
    expect(box).not_to_be_checked()
    edge = box.evaluate("element => getComputedStyle(element).borderTopColor")
    assert contrast(edge, "rgb(255, 255, 255)") >= 3, edge
    assert missing == []
