"""A resident writes to their council in a real browser, in English and in French.

postal code → council → personalise with a talking point → preview → send → confirm from the
email in the outbox → thanks page; the error path keeps the personal message; axe-core checks
the form and the preview for serious or critical accessibility violations.
"""

# ruff: noqa: F811  (pytest fixtures imported from journey_helpers)
import os
import re

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.core import mail
from playwright.sync_api import expect

from letters.models import Letter
from tests.letters.journey_helpers import campaign, council, journey_settings  # noqa: F401

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PERSONAL = "Three new cameras watch my street."


@pytest.fixture
def site(live_server, journey_settings, campaign, council):
    journey_settings.SITE_URL = live_server.url
    mail.outbox = []
    return live_server.url


def assert_accessible(page, what: str) -> None:
    results = Axe().run(page)
    bad = [
        violation
        for violation in results.response["violations"]
        if violation.get("impact") in ("serious", "critical")
    ]
    assert not bad, f"{what}: " + "; ".join(
        f"{v['id']} ({v['impact']}): {[n['target'] for n in v['nodes']]}" for v in bad
    )


def at(site: str, path: str) -> re.Pattern:
    """The page's address; a browser keeps the form's #fragment across the redirect."""
    return re.compile(re.escape(site + path) + "(#.*)?$")


def confirmation_link(site: str) -> str:
    body = mail.outbox[-1].body
    return re.search(r"http\S+/letters/confirm/\S+/", body).group(0)


def test_a_resident_writes_to_their_council_in_english(site, page):
    page.goto(f"{site}/campaigns/cams/")
    assert_accessible(page, "campaign page with the form")
    page.get_by_label("Postal code").fill("k1a 0b1")
    page.get_by_role("button", name="Find my council").click()
    expect(page).to_have_url(at(site, "/campaigns/cams/write/"))
    expect(page.get_by_label("Mara Mayor", exact=True)).to_be_checked()
    expect(page.get_by_text("Nora Noemail")).to_be_visible()

    # One click adds a talking point; the script lists what was added.
    page.get_by_label(re.compile("Four U.S. cities ban it")).check()
    expect(page.locator("[data-added-list]")).to_contain_text("Four U.S. cities ban it")
    page.get_by_label("Your personal message").fill(PERSONAL)
    expect(page.locator("[data-counter-for=id_personal_message]")).to_have_text(
        f"You have {2000 - len(PERSONAL):,} characters remaining"
    )
    page.get_by_label("First name").fill("Jane")
    page.get_by_label("Last name").fill("Doe")
    page.get_by_label("Email").fill("jane@example.org")
    expect(page.get_by_label("Send me a copy")).to_be_checked()
    expect(page.get_by_label("Keep me updated about this campaign")).not_to_be_checked()
    assert_accessible(page, "letter step")
    page.get_by_role("button", name="Preview my letter").click()

    expect(page).to_have_url(at(site, "/campaigns/cams/preview/"))
    letter_text = page.locator(".preview-body")
    expect(letter_text).to_contain_text(PERSONAL)
    expect(letter_text).to_contain_text("Four U.S. cities ban it. [1]")
    expect(letter_text).to_contain_text("[1] Berkeley bans it, Gizmodo")
    expect(page.locator(".preview-subject")).to_have_text("Please act in Ottawa")
    assert_accessible(page, "preview")
    page.get_by_role("button", name="Send").click()

    expect(page).to_have_url(at(site, "/campaigns/cams/thanks/"))
    expect(page.get_by_role("heading", level=1)).to_contain_text("check your inbox")
    letter = Letter.objects.get()
    assert letter.status == Letter.Status.PENDING_CONFIRMATION

    page.goto(confirmation_link(site))
    expect(page.get_by_role("heading", level=1)).to_have_text("Send your letter")
    assert_accessible(page, "confirmation page")
    letter.refresh_from_db()
    assert letter.status == Letter.Status.PENDING_CONFIRMATION  # opening the link sends nothing
    page.get_by_role("button", name="Send my letter").click()
    expect(page).to_have_url(at(site, "/campaigns/cams/thanks/"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Thank you!")
    expect(page.locator("[data-counter]")).to_contain_text("1 letter sent")
    expect(page.get_by_role("link", name="open your letter in your email program")).to_be_visible()
    # The letter, to send to more members yourself: selectable text, and a Copy button.
    expect(page.get_by_label("Letter", exact=True)).to_have_value(re.compile(PERSONAL))
    expect(page.get_by_role("button", name="Copy the letter")).to_be_visible()
    assert_accessible(page, "thank-you page with the letter")
    letter.refresh_from_db()
    assert letter.status == Letter.Status.CONFIRMED
    to = " ".join(address for message in mail.outbox for address in message.to)
    assert "mayor@ottawa.example.org" in to


def test_a_resident_writes_to_their_council_in_french(site, page):
    page.goto(f"{site}/fr/campaigns/cams/")
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    page.locator("#id_postal_code").fill("K1A0B1")
    page.get_by_role("button", name="Trouver mon conseil").click()
    expect(page).to_have_url(at(site, "/fr/campaigns/cams/write/"))
    page.get_by_label(re.compile("Quatre villes américaines")).check()
    page.locator("#id_personal_message").fill("Trois caméras surveillent ma rue.")
    page.locator("#id_first_name").fill("Jeanne")
    page.locator("#id_last_name").fill("Tremblay")
    page.locator("#id_email").fill("jeanne@example.org")
    page.locator("form.letter-write button[type=submit]").click()

    expect(page).to_have_url(at(site, "/fr/campaigns/cams/preview/"))
    expect(page.locator(".preview-subject")).to_have_text("Agissez à Ottawa")
    expect(page.locator(".preview-body")).to_contain_text("J'habite Ottawa.")
    expect(page.locator(".preview-body")).to_contain_text("Quatre villes américaines")
    assert_accessible(page, "French preview")
    page.locator("form[action$='/preview/'] button[type=submit]").click()

    expect(page).to_have_url(at(site, "/fr/campaigns/cams/thanks/"))
    link = confirmation_link(site)
    assert "/fr/letters/confirm/" in link
    page.goto(link)
    page.get_by_role("button", name="Envoyer ma lettre").click()
    expect(page).to_have_url(at(site, "/fr/campaigns/cams/thanks/"))
    letter = Letter.objects.get()
    assert (letter.language, letter.status) == ("fr", Letter.Status.CONFIRMED)


def test_errors_are_announced_and_the_personal_message_is_kept(site, page):
    page.goto(f"{site}/campaigns/cams/")
    page.get_by_label("Postal code").fill("12345")
    page.get_by_role("button", name="Find my council").click()
    postal = page.get_by_label("Postal code")
    expect(postal).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#error-summary")).to_contain_text("Enter a postal code like K1A 0B1")
    assert_accessible(page, "postal code error")
    postal.fill("K1A 0B1")
    page.get_by_role("button", name="Find my council").click()

    page.get_by_label("Your personal message").fill(PERSONAL)
    page.get_by_label("First name").fill("Jane")
    page.get_by_label("Last name").fill("Doe")
    page.get_by_role("button", name="Preview my letter").click()

    summary = page.locator("#error-summary")
    expect(summary).to_be_focused()
    expect(summary.get_by_role("link")).to_have_text("Enter your email address.")
    email = page.get_by_label("Email")
    expect(email).to_have_attribute("aria-invalid", "true")
    described_by = email.get_attribute("aria-describedby")
    assert "id_email_error" in described_by
    expect(page.get_by_label("Your personal message")).to_have_value(PERSONAL)
    assert_accessible(page, "letter step with errors")

    # The summary's link takes the keyboard to the field.
    summary.get_by_role("link").press("Enter")
    email.fill("jane@example.org")
    email.press("Enter")  # submitting with the keyboard
    expect(page).to_have_url(at(site, "/campaigns/cams/preview/"))
    page.get_by_role("link", name="Edit my letter").click()
    expect(page.get_by_label("Your personal message")).to_have_value(PERSONAL)
