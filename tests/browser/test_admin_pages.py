"""Admin pages in a real browser at a common window size: the campaign form fits, the counts
page's title is not under its downloads and its chart draws one day as one bar, the outbox
shows an email's HTML in a sandboxed frame."""

import os

import pytest
from django.contrib.auth import get_user_model

from campaigns.services import SEED_DIR, campaign_load_seed
from letters.models import OutboxMessage
from tests.factories import MunicipalityFactory
from tests.letters.counts_data import local, make_letter

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WINDOW = {"width": 1280, "height": 800}


@pytest.fixture
def campaign():
    campaign, _created = campaign_load_seed(path=SEED_DIR / "say-no-to-facial-recognition.json")
    return campaign


@pytest.fixture
def admin_page(live_server, page):
    get_user_model().objects.create_superuser("boss", "boss@example.org", "a long password")
    page.set_viewport_size(WINDOW)
    page.goto(f"{live_server.url}/admin/login/")
    page.get_by_label("Username").fill("boss")
    page.get_by_label("Password").fill("a long password")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{live_server.url}/admin/")
    return page


def box(locator) -> dict:
    return locator.bounding_box()


def overlap(a: dict, b: dict) -> bool:
    return not (
        a["x"] + a["width"] <= b["x"]
        or b["x"] + b["width"] <= a["x"]
        or a["y"] + a["height"] <= b["y"]
        or b["y"] + b["height"] <= a["y"]
    )


def test_the_campaign_form_fits_a_1280_px_window(live_server, admin_page, campaign):
    admin_page.goto(f"{live_server.url}/admin/campaigns/campaign/{campaign.pk}/change/")

    # The demo campaign has the long citation titles and addresses that used to widen it.
    assert admin_page.locator("#citations-group tbody tr.has_original").count() >= 5
    assert admin_page.evaluate("document.documentElement.scrollWidth") <= WINDOW["width"]


def test_the_counts_page_shows_its_title_clear_of_the_downloads_and_one_day_as_one_bar(
    live_server, admin_page, campaign
):
    for _ in range(4):
        make_letter(
            campaign=campaign, municipality=MunicipalityFactory(), confirmed_at=local(20, 9)
        )

    admin_page.goto(f"{live_server.url}/admin/letters/signerexportlog/counts/{campaign.pk}/")

    title = admin_page.locator("#content h1")
    assert title.inner_text().startswith("Signature counts: Say NO to facial recognition")
    assert title.is_visible()
    downloads = admin_page.locator("#content-main a[href*='/counts/']").all()
    assert len(downloads) == 6  # counts, signers, signers who consented: CSV and XLSX each
    for link in downloads:
        assert not overlap(box(title), box(link)), link.get_attribute("href")
    bars = admin_page.locator("svg.counts-chart rect")
    assert bars.count() == 1
    assert box(bars.first)["width"] <= 30
    chart = box(admin_page.locator("svg.counts-chart"))
    assert box(bars.first)["width"] < chart["width"] / 10
    assert admin_page.locator("svg.counts-chart text", has_text="November 20").is_visible()
    assert admin_page.evaluate("document.documentElement.scrollWidth") <= WINDOW["width"]


def test_the_outbox_shows_the_html_part_in_a_sandbox_where_no_script_runs(live_server, admin_page):
    message = OutboxMessage.objects.create(
        from_email="letters@example.org",
        to="jane@example.org",
        subject="Confirm your letter",
        body="Open http://127.0.0.1:8100/letters/abc/confirm/ to send it.",
        html=(
            "<p id='hello' style='color: rgb(0, 128, 0)'>Hello Jane</p>"
            "<script>document.body.dataset.ran = 'yes'</script>"
        ),
        raw="...",
    )

    admin_page.goto(f"{live_server.url}/admin/letters/outboxmessage/{message.pk}/change/")

    link = admin_page.get_by_role("link", name="http://127.0.0.1:8100/letters/abc/confirm/")
    assert link.get_attribute("href") == "http://127.0.0.1:8100/letters/abc/confirm/"
    frame_element = admin_page.locator("iframe.outbox-html")
    assert frame_element.get_attribute("sandbox") == ""
    frame = frame_element.content_frame
    hello = frame.locator("#hello")
    assert hello.inner_text() == "Hello Jane"
    # Its inline style applies; its script does not run.
    assert hello.evaluate("element => getComputedStyle(element).color") == "rgb(0, 128, 0)"
    assert frame.locator("body").get_attribute("data-ran") is None
