# ruff: noqa: F811  (pytest fixtures imported from journey_helpers)
"""Organizers preview a campaign's letter for any municipality and send themselves a test."""

import pytest
from django.core import mail

from letters import services
from letters.models import BlockedSender, Letter
from tests.factories import UserFactory
from tests.letters.journey_helpers import (  # noqa: F401
    campaign,
    council,
    journey_settings,
    letter_data,
    write_and_send,
)

pytestmark = pytest.mark.django_db


def url(campaign):
    return f"/admin/letters/letter/preview/{campaign.pk}/"


@pytest.fixture
def organizer(client, staff_user):
    staff_user.email = "organizer@example.org"
    staff_user.save()
    client.force_login(staff_user)
    return client


def test_the_campaign_admin_links_to_the_preview(organizer, campaign):
    html = organizer.get(f"/admin/campaigns/campaign/{campaign.pk}/change/").content.decode()
    assert f'href="{url(campaign)}"' in html


def test_it_previews_the_letter_for_a_municipality(organizer, campaign, council):
    municipality = council["municipality"]
    response = organizer.get(url(campaign), {"municipality": municipality.pk, "language": "en"})
    html = response.content.decode()
    assert response.status_code == 200
    assert "Please act in Ottawa" in html
    assert "Dear Mayor and Council," in html
    assert "mayor@ottawa.example.org" in html
    assert "Nora Noemail" in html


def test_it_previews_in_french(organizer, campaign, council):
    response = organizer.get(
        url(campaign), {"municipality": council["municipality"].pk, "language": "fr"}
    )
    assert "Agissez à Ottawa" in response.content.decode()


def test_the_picker_searches_municipalities(organizer, campaign, council):
    html = organizer.get(url(campaign), {"q": "otta", "language": "en"}).content.decode()
    assert f'<option value="{council["municipality"].pk}">Ottawa (ON)</option>' in html


def test_a_test_letter_goes_to_the_organizer_only_and_never_counts(
    organizer, campaign, council, django_capture_on_commit_callbacks
):
    query = f"?municipality={council['municipality'].pk}&language=en"
    with django_capture_on_commit_callbacks(execute=True):
        response = organizer.post(url(campaign) + query)
    assert response.status_code == 302
    letter = Letter.objects.get()
    assert letter.is_test
    # One email, to the organizer alone, however many people the letter addresses.
    assert [message.to for message in mail.outbox] == [["organizer@example.org"]]
    campaign.refresh_from_db()
    assert campaign.letters_count == 0


def test_the_test_letter_is_the_letter_previewed(
    organizer, staff_user, campaign, council, django_capture_on_commit_callbacks
):
    query = f"?municipality={council['municipality'].pk}&language=en"
    html = organizer.get(url(campaign) + query).content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        organizer.post(url(campaign) + query)
    (message,) = mail.outbox
    preview = services.letter_test_preview(
        campaign=campaign, municipality=council["municipality"], language="en", user=staff_user
    )["composed"]

    # The preview shows the subject and text that go out; the email marks its subject once.
    assert f'<p class="preview-subject">{preview.subject}</p>' in html
    assert message.subject == "[TEST] Please act in Ottawa"
    assert message.body.startswith(preview.body + "\n")
    # The greeting is the whole council's, in the preview and in the email alike.
    assert preview.body.startswith("Dear Mayor and Council,")
    assert "Dear Mayor and Council," in html
    assert "[The resident&#x27;s personal message goes here.]" in html
    assert "[The resident's personal message goes here.]" in message.body


def test_a_test_letter_needs_the_organizers_email(
    organizer, staff_user, campaign, council, django_capture_on_commit_callbacks
):
    staff_user.email = ""
    staff_user.save()
    query = f"?municipality={council['municipality'].pk}&language=en"
    response = organizer.post(url(campaign) + query, follow=True)
    assert "Add an email address" in response.content.decode()
    assert not Letter.objects.exists()


def test_anonymous_users_are_sent_to_the_login(client, campaign):
    response = client.get(url(campaign))
    assert response.status_code == 302
    assert "/login/" in response["Location"]


def test_staff_without_campaign_rights_are_refused(client, campaign):
    client.force_login(UserFactory(is_staff=True, username="intern"))
    assert client.get(url(campaign)).status_code == 403


def test_an_unknown_campaign_is_404(organizer, db):
    assert organizer.get("/admin/letters/letter/preview/999999/").status_code == 404


def test_organizers_block_senders_from_the_letters_list(
    organizer, client, campaign, council, journey_settings
):
    from django.test import Client

    resident = Client()
    write_and_send(resident, campaign, letter_data(recipients=[council["mayor"].pk]))
    letter = Letter.objects.get()
    response = organizer.post(
        "/admin/letters/letter/",
        {"action": "block_senders", "_selected_action": [letter.pk]},
    )
    assert response.status_code == 302
    assert BlockedSender.objects.filter(kind="email", value="jane@example.org").exists()
