"""A resident answers "Did council reply?" in French, in a real browser: the follow-up email
(made by send_followups) links to /fr/letters/<token>/reply/ with the answer preselected; the
resident answers per councillor, with a summary they allow to be published, and the answers
are recorded.
"""

# ruff: noqa: F811  (pytest fixtures imported from journey_helpers)
import os
import re
from datetime import timedelta
from io import StringIO

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.core import mail
from django.core.management import call_command
from django.utils import timezone, translation
from playwright.sync_api import expect

from letters.models import Reply
from tests.letters.followup_helpers import sent_letter
from tests.letters.journey_helpers import campaign, council, journey_settings  # noqa: F401

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# The msgids the page shows; the test reads their French from the catalogue, and checks that
# each one is translated (the catalogue, not this test, owns the wording).
MSGIDS = (
    "Did council reply?",
    "Did they reply?",
    "Replied",
    "No reply",
    "When did they reply? (optional)",
    "Their answer, pasted or summed up (optional)",
    "It may be shown publicly, without my name",
    "Record my answer",
    "Thank you: your answer is recorded.",
)
with translation.override("fr"):
    FRENCH = {msgid: translation.gettext(msgid) for msgid in MSGIDS}


@pytest.fixture
def site(live_server, journey_settings, campaign, council):
    journey_settings.SITE_URL = live_server.url
    mail.outbox = []
    return live_server.url


def assert_accessible(page, what: str) -> None:
    results = Axe().run(page)
    bad = [v for v in results.response["violations"] if v.get("impact") in ("serious", "critical")]
    assert not bad, f"{what}: " + "; ".join(
        f"{v['id']} ({v['impact']}): {[n['target'] for n in v['nodes']]}" for v in bad
    )


def test_a_resident_answers_the_follow_up_in_french(site, page, campaign, council):
    untranslated = [msgid for msgid, french in FRENCH.items() if french == msgid]
    assert not untranslated, f"Not in the French catalogue: {untranslated}"
    mayor, cora = council["mayor"], council["first"]
    letter = sent_letter(
        campaign,
        council["municipality"],
        [mayor, cora],
        sent_at=timezone.now() - timedelta(days=15),
        language="fr",
        email="jeanne@example.org",
    )
    call_command("send_followups", stdout=StringIO())
    (message,) = mail.outbox
    link = re.search(r"http\S+/fr/letters/\S+/reply/\?outcome=replied", message.body).group(0)

    page.goto(link)
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    expect(page.get_by_role("heading", level=1)).to_have_text(FRENCH["Did council reply?"])
    assert_accessible(page, "French answer page")
    mayor_part = page.locator("fieldset", has_text="Mara Mayor")
    cora_part = page.locator("fieldset", has_text="Cora Councillor")
    # The email's link chose the answer for every recipient.
    expect(mayor_part.get_by_label(FRENCH["Replied"], exact=True)).to_be_checked()
    expect(mayor_part.get_by_text(FRENCH["Did they reply?"])).to_be_visible()
    replied_on = timezone.localdate() - timedelta(days=3)
    mayor_part.get_by_label(FRENCH["When did they reply? (optional)"]).fill(replied_on.isoformat())
    mayor_part.get_by_label(FRENCH["Their answer, pasted or summed up (optional)"]).fill(
        "Elle déposera une motion au prochain conseil."
    )
    mayor_part.get_by_label(FRENCH["It may be shown publicly, without my name"]).check()
    cora_part.get_by_label(FRENCH["No reply"], exact=True).check()
    page.get_by_role("button", name=FRENCH["Record my answer"]).click()

    expect(page).to_have_url(re.compile(re.escape(f"{site}/fr/letters/{letter.token}/") + "$"))
    expect(page.get_by_text(FRENCH["Thank you: your answer is recorded."])).to_be_visible()
    replies = {
        reply.delivery.recipient_name: reply for reply in Reply.objects.select_related("delivery")
    }
    assert replies["Mara Mayor"].outcome == "replied"
    assert replies["Mara Mayor"].replied_on == replied_on
    assert replies["Mara Mayor"].summary == "Elle déposera une motion au prochain conseil."
    assert replies["Mara Mayor"].may_publish is True
    assert (replies["Cora Councillor"].outcome, replies["Cora Councillor"].may_publish) == (
        "no_reply",
        False,
    )
