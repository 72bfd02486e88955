"""Fixtures and helpers for the resident's journey tests (form, services, views, browser)."""

import re
from html import unescape

import pytest

from campaigns.models import Campaign
from councils.models import PostcodePrefix, Role
from tests.factories import (
    CampaignFactory,
    CitationFactory,
    MunicipalityFactory,
    RepresentativeFactory,
    TalkingPointFactory,
)

POSTAL_CODE = "K1A 0B1"


@pytest.fixture
def journey_settings(settings):
    settings.LETTERS_MIN_FILL_SECONDS = 0
    settings.LETTERS_RATE_LIMIT_PER_IP = 100
    settings.LETTERS_RATE_LIMIT_PER_EMAIL = 100
    settings.SITE_URL = "http://testserver"
    return settings


@pytest.fixture
def council(db):
    """Ottawa with a mayor, two councillors with email and one without (phone only)."""
    ottawa = MunicipalityFactory(
        name="Ottawa", name_fr="Ottawa", province="ON", organization_name="City of Ottawa"
    )
    mayor = RepresentativeFactory(
        municipality=ottawa,
        role=Role.MAYOR,
        role_text="Mayor",
        name="Mara Mayor",
        email="mayor@ottawa.example.org",
    )
    first = RepresentativeFactory(
        municipality=ottawa, name="Cora Councillor", email="cora@ottawa.example.org"
    )
    second = RepresentativeFactory(
        municipality=ottawa, name="Carl Councillor", email="carl@ottawa.example.org"
    )
    no_email = RepresentativeFactory(
        municipality=ottawa,
        name="Nora Noemail",
        email="",
        phone="613-555-0100",
        contact_url="https://ottawa.example.org/contact",
    )
    PostcodePrefix.objects.create(fsa="K1A", municipality=ottawa)
    return {
        "municipality": ottawa,
        "mayor": mayor,
        "first": first,
        "second": second,
        "no_email": no_email,
        "emailable": [mayor, first, second],
    }


@pytest.fixture
def campaign(db):
    campaign = CampaignFactory(
        slug="cams",
        title_en="Say NO to facial recognition",
        title_fr="Dites NON à la reconnaissance faciale",
        letter_subjects_en="Please act in {municipality}",
        letter_subjects_fr="Agissez à {municipality}",
        letter_template_en="Dear {recipient_name},\n\nI live in {municipality}. {sender_name}",
        letter_template_fr="Bonjour {recipient_name},\n\nJ'habite {municipality}. {sender_name}",
        target_roles=[Role.MAYOR, Role.COUNCILLOR],
        editing_mode=Campaign.EditingMode.PERSONAL,
        requires_confirmation=True,
        organization_name="Privacy Org",
        sender_email="letters@privacy.example.org",
        share_text="Write to your council about facial recognition.",
    )
    citation = CitationFactory(
        campaign=campaign, title_en="Berkeley bans it", publisher="Gizmodo", order=1
    )
    campaign.point = TalkingPointFactory(
        campaign=campaign,
        text_en="Four U.S. cities ban it.",
        text_fr="Quatre villes américaines l'interdisent.",
        citation=citation,
        order=1,
    )
    return campaign


def letter_data(**overrides) -> dict:
    data = {
        "first_name": "Jane",
        "last_name": "Doe",
        "email": "jane@example.org",
        "street_address": "",
        "send_copy": "on",
        "personal_message": "My street has three new cameras.",
    }
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


def choose_council(client, campaign, postal_code=POSTAL_CODE, prefix=""):
    """Step 1 as the campaign page's form sends it (a GET)."""
    return client.get(f"{prefix}/campaigns/{campaign.slug}/council/", {"postal_code": postal_code})


def fill_letter(client, campaign, data, prefix=""):
    return client.post(f"{prefix}/campaigns/{campaign.slug}/write/", data)


def send(client, campaign, prefix="", **extra):
    return client.post(f"{prefix}/campaigns/{campaign.slug}/preview/", **extra)


def write_and_send(client, campaign, data, prefix="", **extra):
    response = choose_council(client, campaign, prefix=prefix)
    assert response.status_code == 302, response.content.decode()[:2000]
    response = fill_letter(client, campaign, data, prefix=prefix)
    assert response.status_code == 302, response.content.decode()[:4000]
    return send(client, campaign, prefix=prefix, **extra)


class FailingEmailBackend:
    """A mail server that is down: every send raises, as smtplib does."""

    def __init__(self, *args, **kwargs):
        pass

    def send_messages(self, messages):
        raise ConnectionRefusedError("mail server down")


def picker_options(html: str) -> list[tuple[str, bool]]:
    """What the municipality picker offers, in order: (label, preselected) for each radio
    button or option of its select."""
    picker = html.partition('id="municipality-picker"')[2]
    radios = re.findall(r'<input type="radio"([^>]*)>\s*<label[^>]*>\s*([^<]*?)\s*</label>', picker)
    options = re.findall(r'<option value="\d[\d:]*"([^>]*)>([^<]*)</option>', picker)
    return [
        (unescape(label), "checked" in attrs or "selected" in attrs)
        for attrs, label in radios + options
    ]


def picker_widget(html: str) -> str:
    picker = html.partition('id="municipality-picker"')[2]
    return "radio" if 'type="radio"' in picker else "select"
