import pytest

from campaigns.models import Campaign
from tests.factories import CampaignFactory, CitationFactory, TalkingPointFactory

pytestmark = pytest.mark.django_db


def page(client, campaign, prefix=""):
    return client.get(f"{prefix}/campaigns/{campaign.slug}/")


def test_it_shows_the_campaign(client):
    campaign = CampaignFactory(
        title_en="Stop the cameras",
        summary_en="Write today.",
        press_name="Rosa Addario",
        press_phone="+1 (888) 441-2640 ext. 0",
    )
    citation = CitationFactory(campaign=campaign, title_en="A report", publisher="CBC")
    TalkingPointFactory(campaign=campaign, text_en="Cities banned it.", citation=citation)
    response = page(client, campaign)
    assert response.status_code == 200
    html = response.content.decode()
    assert '<h1 id="campaign-title">Stop the cameras</h1>' in html
    assert "Write today." in html
    assert "Cities banned it." in html
    assert 'href="#source-1"' in html and 'id="source-1"' in html
    # The marker sits on the fact's own line, not in a paragraph of its own.
    assert '<li>Cities banned it. <a class="citation-ref" href="#source-1"' in html
    assert "<cite>CBC</cite>" in html
    assert "Rosa Addario" in html
    assert "0 letters sent of a goal of 100" in " ".join(
        html.replace("<strong>", "").replace("</strong>", "").split()
    )


def test_it_shows_the_letter_with_placeholders_as_bracketed_hints(client):
    campaign = CampaignFactory(letter_template_en="From {sender_name}, in {municipality}")
    html = page(client, campaign).content.decode()
    assert "From [your name], in [your municipality]" in html
    assert "{sender_name}" not in html


def test_the_sample_letter_greets_the_whole_council_as_letters_do(client):
    campaign = CampaignFactory(
        letter_template_en="{salutation},\n\n{recipient_name} ({recipient_title}) of {municipality}"
    )
    html = page(client, campaign).content.decode()
    assert "Dear Mayor and Council,\n\nMayor and Council (Members of Council) of" in html
    assert "a letter to one person greets them by name" in html


def test_the_sample_letter_lists_every_subject_a_letter_may_get(client):
    campaign = CampaignFactory(
        letter_subjects_en="Please act in {municipality}\nA request from {municipality}"
    )
    html = page(client, campaign).content.decode()
    assert "Each letter goes out with one of these subjects" in html
    assert "<li>Please act in [your municipality]</li>" in html
    assert "<li>A request from [your municipality]</li>" in html


def test_one_subject_is_shown_in_the_letter(client):
    campaign = CampaignFactory(letter_subjects_en="Please act in {municipality}")
    html = page(client, campaign).content.decode()
    assert "<strong>Subject: Please act in [your municipality]</strong>" in html
    assert "one of these subjects" not in html


def test_it_renders_french_under_fr(client):
    campaign = CampaignFactory(title_fr="Arrêtez les caméras", body_fr="Pourquoi **agir**")
    TalkingPointFactory(campaign=campaign, text_fr="Un fait en français.")
    response = page(client, campaign, prefix="/fr")
    html = response.content.decode()
    assert response.status_code == 200
    assert '<html lang="fr">' in html
    assert "Arrêtez les caméras" in html
    assert "<strong>agir</strong>" in html
    assert "Un fait en français." in html
    # The switch back to English, which remembers the choice (campaigns.views.language_choose).
    assert f'href="/language/en/?next=%2Ffr%2Fcampaigns%2F{campaign.slug}%2F"' in html


def test_french_falls_back_to_english_when_untranslated(client):
    campaign = CampaignFactory(title_en="Only English", title_fr="")
    assert "Only English" in page(client, campaign, prefix="/fr").content.decode()


def test_it_links_to_the_other_language(client):
    campaign = CampaignFactory()
    html = page(client, campaign).content.decode()
    switch = f"/language/fr/?next=%2Fcampaigns%2F{campaign.slug}%2F"
    assert f'href="{switch}"' in html
    response = client.get(switch)
    assert response.status_code == 302
    assert response["Location"] == f"/fr/campaigns/{campaign.slug}/"


def test_a_draft_is_404_for_the_public(client, user):
    campaign = CampaignFactory(status=Campaign.Status.DRAFT)
    assert page(client, campaign).status_code == 404
    client.force_login(user)
    assert page(client, campaign).status_code == 404


def test_staff_can_preview_a_draft(staff_client):
    campaign = CampaignFactory(status=Campaign.Status.DRAFT)
    response = page(staff_client, campaign)
    assert response.status_code == 200
    assert "Draft preview" in response.content.decode()


def test_a_closed_campaign_says_so(client):
    campaign = CampaignFactory(status=Campaign.Status.CLOSED)
    response = page(client, campaign)
    assert response.status_code == 200
    assert "This campaign is closed." in response.content.decode()


def test_a_closed_campaign_says_so_in_french(client):
    campaign = CampaignFactory(status=Campaign.Status.CLOSED)
    assert "Cette campagne est terminée." in page(client, campaign, "/fr").content.decode()


def test_an_unknown_campaign_is_404(client):
    assert client.get("/campaigns/nope/").status_code == 404


def test_markdown_is_sanitised(client):
    campaign = CampaignFactory(
        body_en='Hello <script>alert("x")</script> [click](javascript:alert(1)) '
        '<img src=x onerror="alert(2)">',
        summary_en="<script>alert('summary')</script>",
    )
    TalkingPointFactory(campaign=campaign, text_en="<b onclick='alert(3)'>bold</b> fact")
    html = page(client, campaign).content.decode()
    assert "<script>alert" not in html
    assert 'href="javascript' not in html
    assert "<img" not in html and "<b onclick" not in html
    assert "&lt;script&gt;alert(&#x27;summary&#x27;)" in html  # plain text is escaped


def test_it_rejects_post_on_the_campaign_page_without_a_form(client):
    campaign = CampaignFactory(status=Campaign.Status.CLOSED)
    assert client.post(f"/campaigns/{campaign.slug}/").status_code in (403, 405)


def test_home_redirects_to_the_one_live_campaign(client):
    campaign = CampaignFactory()
    CampaignFactory(status=Campaign.Status.DRAFT)
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"] == f"/campaigns/{campaign.slug}/"


def test_home_lists_several_live_campaigns(client):
    first, second = CampaignFactory(title_en="First"), CampaignFactory(title_en="Second")
    response = client.get("/")
    html = response.content.decode()
    assert response.status_code == 200
    assert first.get_absolute_url() in html and second.get_absolute_url() in html


def test_home_says_when_nothing_is_live(client):
    CampaignFactory(status=Campaign.Status.DRAFT)
    assert "no campaign open" in client.get("/").content.decode()


def test_home_rejects_post(client):
    assert client.post("/").status_code == 405


def test_the_privacy_page_gives_each_campaigns_retention(client):
    from datetime import UTC, datetime

    CampaignFactory(title_en="Cams", retention_days=90, closes_at=datetime(2027, 1, 1, tzinfo=UTC))
    CampaignFactory(title_en="Open-ended", retention_days=30, closes_at=None)
    html = client.get("/privacy/").content.decode()
    assert "Cams: your personal details are erased 90 days after the campaign closes" in html
    # Without a closing time, retention counts from each letter (letters.privacy), or from a
    # closing time if one is set later.
    assert "Open-ended: your personal details are erased 30 days after you write" in html


def test_pages_request_nothing_from_third_party_hosts(client):
    import re

    campaign = CampaignFactory()
    CitationFactory(campaign=campaign, url="https://example.org/article")
    html = page(client, campaign).content.decode()
    # Citations are links a reader may follow; nothing is loaded from elsewhere.
    loaded = re.findall(r'(?:src|href)="(https?:)?//[^"]*"', html.replace('<a href="https://', ""))
    assert loaded == []
    assert "/static/vendor/bootstrap/bootstrap.min.css" in html


def test_the_sanitiser_strips_what_markdown_lets_through():
    from campaigns.rendering import render_markdown

    html = render_markdown('[ok](https://example.org "t") [bad](vbscript:x) <iframe src=x>')
    assert '<a href="https://example.org" title="t" rel="noopener noreferrer">ok</a>' in html
    assert "vbscript" not in html.split("[bad]")[0]
    assert "<iframe" not in html


# --- Languages --------------------------------------------------------------------------------


def test_a_french_browser_at_the_root_goes_to_the_french_campaign(client):
    campaign = CampaignFactory()
    response = client.get("/", HTTP_ACCEPT_LANGUAGE="fr-CA,fr;q=0.9,en;q=0.5")
    assert response.status_code == 302
    assert response["Location"] == f"/fr/campaigns/{campaign.slug}/"
    assert "Accept-Language" in response["Vary"] and "Cookie" in response["Vary"]


def test_an_english_browser_at_the_root_stays_in_english(client):
    campaign = CampaignFactory()
    response = client.get("/", HTTP_ACCEPT_LANGUAGE="en-CA,en;q=0.9")
    assert response["Location"] == f"/campaigns/{campaign.slug}/"


def test_a_french_browser_with_several_campaigns_gets_the_french_list(client):
    CampaignFactory()
    CampaignFactory()
    response = client.get("/", HTTP_ACCEPT_LANGUAGE="fr-CA")
    assert response.status_code == 302 and response["Location"] == "/fr/"
    assert client.get("/fr/", HTTP_ACCEPT_LANGUAGE="fr-CA").status_code == 200


def test_the_language_switch_wins_over_the_browser(client, settings):
    campaign = CampaignFactory()
    response = client.get(f"/language/en/?next=/fr/campaigns/{campaign.slug}/")
    assert response["Location"] == f"/campaigns/{campaign.slug}/"
    cookie = response.cookies[settings.LANGUAGE_COOKIE_NAME]
    assert cookie.value == "en" and int(cookie["max-age"]) >= 30 * 24 * 3600

    response = client.get("/", HTTP_ACCEPT_LANGUAGE="fr-CA")
    assert response["Location"] == f"/campaigns/{campaign.slug}/"
    # An address with its language keeps it, whatever the cookie says.
    assert client.get(f"/fr/campaigns/{campaign.slug}/").status_code == 200
    client.get(f"/language/fr/?next=/campaigns/{campaign.slug}/")
    assert client.get("/", HTTP_ACCEPT_LANGUAGE="en")["Location"] == (
        f"/fr/campaigns/{campaign.slug}/"
    )


def test_the_language_switch_only_leads_to_this_site(client):
    response = client.get("/language/fr/?next=https://evil.example/phish")
    assert response.status_code == 302
    assert response["Location"] == "/fr/"
    assert client.post("/language/fr/").status_code == 405


# --- Figures, dates, links ----------------------------------------------------------------------


def test_the_goal_is_grouped_in_each_language(client):
    campaign = CampaignFactory(goal=10000)
    flat = " ".join(page(client, campaign).content.decode().split())
    assert "<strong>0</strong> letters sent of a goal of 10,000" in flat
    html = page(client, campaign, prefix="/fr").content.decode()
    assert "10\xa0000" in html


def test_the_press_phone_dials_its_extension(client):
    campaign = CampaignFactory(press_name="Rosa Addario", press_phone="+1 (888) 441-2640 ext. 0")
    html = page(client, campaign).content.decode()
    assert '<a href="tel:+18884412640,0">+1 (888) 441-2640 ext. 0</a>' in html


def test_french_dates_on_the_page(client):
    from datetime import UTC, datetime

    campaign = CampaignFactory(opens_at=datetime(2099, 12, 1, 11, 6, tzinfo=UTC))
    CitationFactory(campaign=campaign, published_on="2021-06-01")
    html = page(client, campaign, prefix="/fr").content.decode()
    assert "1er décembre 2099, 6\xa0h\xa006" in html  # 11:06 UTC in Toronto
    assert "1er juin 2021" in html


# --- Layout, the letter, closing ------------------------------------------------------------------


def test_the_form_comes_before_the_copy_in_the_page(client):
    campaign = CampaignFactory(body_en="Why it **matters**.")
    html = page(client, campaign).content.decode()
    # A phone shows the form first; wide screens put it in the right-hand column.
    assert html.index('id="letter-form"') < html.index("campaign-body")
    assert 'class="row g-4 g-lg-5"' in html


def test_a_closed_campaign_no_longer_invites_words(client):
    campaign = CampaignFactory(status=Campaign.Status.CLOSED)
    html = page(client, campaign).content.decode()
    assert "You can add your own words" not in html
    assert "Residents sent this letter to their council." in html
    assert "You can still write to your council yourself" in html


def test_a_locked_letter_does_not_promise_changes(client):
    campaign = CampaignFactory(editing_mode=Campaign.EditingMode.LOCKED)
    html = page(client, campaign).content.decode()
    assert "This is the letter your council will receive." in html
    assert "add your own words" not in html


# --- Favicon ------------------------------------------------------------------------------------


def test_every_page_names_its_icon_and_favicon_ico_exists(client):
    from django.contrib.staticfiles import finders

    campaign = CampaignFactory()
    html = page(client, campaign).content.decode()
    assert '<link rel="icon" href="/static/img/favicon.svg" type="image/svg+xml">' in html
    response = client.get("/favicon.ico")
    assert response.status_code == 302
    assert response["Location"] == "/static/img/favicon.ico"
    assert "max-age=86400" in response["Cache-Control"]
    for name in ("img/favicon.ico", "img/favicon.svg"):
        assert finders.find(name), name
    with open(finders.find("img/favicon.ico"), "rb") as icon:
        assert icon.read(4) == b"\x00\x00\x01\x00"  # an ICO file
