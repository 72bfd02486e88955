# ruff: noqa: F811  (pytest fixtures imported from journey_helpers)
"""Whose name residents see: the campaign's organization, else the site's, in the letter's
language, in the consent wording, the emails' From names and the footer."""

import subprocess
import sys
from email.utils import parseaddr

import pytest
from django.conf import settings as django_settings
from django.core import mail
from django.utils import translation

from campaigns.models import Campaign, site_organization
from letters import emails, services
from letters.models import Delivery, OutgoingMail
from letters.services import letter_queue
from tests.factories import CampaignFactory
from tests.letters.delivery_helpers import make_letter
from tests.letters.journey_helpers import campaign, council, journey_settings  # noqa: F401

pytestmark = pytest.mark.django_db


@pytest.fixture
def site_names(settings):
    settings.ORGANIZATION_NAME = "Civic Tech Toronto"
    settings.ORGANIZATION_NAME_FR = "Techno civique Toronto"
    return settings


def submit(campaign, council, **overrides):
    kwargs = {
        "campaign": campaign,
        "municipality": council["municipality"],
        "representative_ids": [rep.pk for rep in council["emailable"]],
        "first_name": "Jane",
        "last_name": "Doe",
        "email": "jane@example.org",
        "postal_code": "K1A 0B1",
        "language": "en",
        "consent_given": True,
        "ip": "203.0.113.9",
    }
    kwargs.update(overrides)
    return services.letter_submit(**kwargs)


def from_name(message) -> str:
    return parseaddr(message.from_email)[0]


# --- Campaign.organization ------------------------------------------------------------------------


def test_a_campaign_names_its_own_organization_in_each_language(site_names):
    campaign = CampaignFactory(
        organization_name_en="Privacy Org", organization_name_fr="Org vie privée"
    )

    assert campaign.organization("en") == "Privacy Org"
    assert campaign.organization("fr") == "Org vie privée"
    with translation.override("fr"):
        assert campaign.organization() == "Org vie privée"


def test_a_campaign_named_in_english_only_keeps_that_name_in_french(site_names):
    campaign = CampaignFactory(organization_name_en="Privacy Org", organization_name_fr="")

    assert campaign.organization("fr") == "Privacy Org"


def test_a_campaign_without_a_name_is_run_by_the_sites_organization(site_names):
    campaign = CampaignFactory(organization_name_en="", organization_name_fr="")

    assert campaign.organization("en") == "Civic Tech Toronto"
    assert campaign.organization("fr") == "Techno civique Toronto"
    assert site_organization("fr-ca") == "Techno civique Toronto"


def _settings_in_a_fresh_process(env: dict) -> list[str]:
    code = (
        "import django; django.setup(); from django.conf import settings as s; "
        "print(s.ORGANIZATION_NAME); print(s.ORGANIZATION_NAME_FR); print(s.DEFAULT_FROM_EMAIL)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        env={
            "PATH": "/usr/bin:/bin",
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "PYTHONPATH": str(django_settings.BASE_DIR),
            **env,
        },
        cwd=django_settings.BASE_DIR,
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.splitlines()


def test_the_site_is_council_letters_and_lettres_au_conseil_by_default():
    assert _settings_in_a_fresh_process({}) == [
        "Council Letters",
        "Lettres au conseil",
        "Council Letters <letters@example.org>",
    ]


def test_an_organization_named_once_keeps_its_name_in_french():
    assert _settings_in_a_fresh_process({"ORGANIZATION_NAME": "Ligue des droits, Québec"}) == [
        "Ligue des droits, Québec",
        "Ligue des droits, Québec",
        "=?utf-8?q?Ligue_des_droits=2C_Qu=C3=A9bec?= <letters@example.org>",
    ]


# --- The consent wording ---------------------------------------------------------------------------


def test_the_stored_consent_names_the_campaigns_organization(
    campaign, council, journey_settings, site_names
):
    letter = submit(campaign, council)

    assert "Privacy Org may email me news about this campaign." in letter.consent_text
    assert "Civic Tech Toronto" not in letter.consent_text


def test_the_stored_consent_names_the_sites_organization_in_french(
    campaign, council, journey_settings, site_names
):
    Campaign.objects.filter(pk=campaign.pk).update(
        organization_name="", organization_name_en="", organization_name_fr=""
    )
    campaign.refresh_from_db()

    letter = submit(campaign, council, language="fr")

    assert letter.consent_language == "fr"
    assert "Techno civique Toronto" in letter.consent_text
    assert "Civic Tech Toronto" not in letter.consent_text


def test_the_letter_form_shows_the_consent_with_the_organization(client, campaign, site_names):
    Campaign.objects.filter(pk=campaign.pk).update(organization_name_fr="Org vie privée")

    text = services.consent_text(campaign=Campaign.objects.get(pk=campaign.pk), language="fr")

    assert "Org vie privée" in text


# --- From names ------------------------------------------------------------------------------------


def test_a_letter_comes_from_the_resident_via_the_organization(
    django_capture_on_commit_callbacks, site_names
):
    organized = CampaignFactory(
        organization_name_en="Privacy Org", organization_name_fr="Org vie privée"
    )
    unnamed = CampaignFactory(organization_name_en="", organization_name_fr="")

    for runner, language in ((organized, "fr"), (unnamed, "en"), (unnamed, "fr")):
        letter = make_letter(campaign=runner, recipients=1, language=language, send_copy=True)
        with django_capture_on_commit_callbacks(execute=True):
            letter_queue(letter=letter)

    names = [from_name(message) for message in mail.outbox]
    assert names == [
        "Jane Resident via Org vie privée",
        "Org vie privée",  # the resident's copy
        "Jane Resident via Civic Tech Toronto",
        "Civic Tech Toronto",
        "Jane Resident via Techno civique Toronto",
        "Techno civique Toronto",
    ]
    # The copy is signed with the same name.
    assert mail.outbox[5].body.rstrip().endswith("Techno civique Toronto")


def test_the_confirmation_email_comes_from_the_organization_in_french(
    campaign, council, journey_settings, django_capture_on_commit_callbacks
):
    Campaign.objects.filter(pk=campaign.pk).update(
        organization_name="", organization_name_en="", organization_name_fr=""
    )
    campaign.refresh_from_db()

    with django_capture_on_commit_callbacks(execute=True):
        submit(campaign, council, language="fr")

    (confirmation,) = mail.outbox
    assert from_name(confirmation) == "Lettres au conseil"
    assert parseaddr(confirmation.from_email)[1] == "letters@privacy.example.org"
    assert "Lettres au conseil" in confirmation.body
    assert "Lettres au conseil" in confirmation.alternatives[0][0]


def test_digests_and_clerk_bundles_come_from_the_organization(site_names):
    campaign = CampaignFactory(
        organization_name_en="", organization_name_fr="", default_language="fr"
    )
    first = make_letter(campaign=campaign, recipients=1, language="fr")
    second = make_letter(campaign=campaign, recipients=0, language="fr")
    delivery = first.deliveries.get()
    names = {}
    for kind in (OutgoingMail.Kind.DIGEST, OutgoingMail.Kind.CLERK):
        row = OutgoingMail.objects.create(kind=kind, campaign=campaign)
        Delivery.objects.filter(pk=delivery.pk).update(mail=row, status=Delivery.Status.SENDING)
        Delivery.objects.create(
            letter=second,
            recipient_name=delivery.recipient_name,
            recipient_email=delivery.recipient_email,
            status=Delivery.Status.SENDING,
            mail=row,
        )
        message = emails.message_for(row)
        names[kind] = from_name(message)
        assert "Techno civique Toronto" in message.body
        Delivery.objects.filter(mail=row).exclude(pk=delivery.pk).delete()

    assert names == {
        OutgoingMail.Kind.DIGEST: "Techno civique Toronto",
        OutgoingMail.Kind.CLERK: "Techno civique Toronto",
    }


# --- Pages -----------------------------------------------------------------------------------------


def footer(response) -> str:
    html = response.content.decode()
    return html[html.index("<footer") : html.index("</footer>")]


def test_the_footer_names_the_campaigns_organization_on_its_pages(client, campaign, site_names):
    assert "Privacy Org" in footer(client.get(f"/campaigns/{campaign.slug}/"))


def test_the_footer_names_the_sites_organization_elsewhere_in_each_language(client, site_names):
    assert "Civic Tech Toronto" in footer(client.get("/"))
    assert "Techno civique Toronto" in footer(client.get("/fr/"))


def test_french_pages_call_the_site_lettres_au_conseil(client):
    html = client.get("/fr/").content.decode()

    assert "<title>Lettres au conseil</title>" in html
    assert "Council Letters" not in html
