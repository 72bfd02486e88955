# ruff: noqa: F811  (pytest fixtures imported from journey_helpers)
"""The journey to a council with no contacts yet, and to one held after an election: the
hold option on the letter step, the preview, the thank-you page and the status page."""

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone
from django.utils.formats import date_format

from campaigns.models import Campaign
from councils.models import PostcodePrefix
from letters import services
from letters.models import Delivery, Letter
from tests.letters.held_helpers import WEBSITE, import_roster, no_contacts_council, submit
from tests.letters.journey_helpers import (  # noqa: F401
    campaign,
    choose_council,
    council,
    fill_letter,
    journey_settings,
    letter_data,
    send,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("journey_settings")]

REGINA_POSTAL_CODE = "S4P 3Y2"


@pytest.fixture
def regina(db):
    regina = no_contacts_council()
    PostcodePrefix.objects.create(fsa="S4P", municipality=regina)
    return regina


def html_of(response) -> str:
    return response.content.decode()


def write_to_regina(client, campaign, capture, **data) -> Letter:
    """Council, letter, preview and Send, then the confirmation link: the letter confirmed."""
    choose_council(client, campaign, postal_code=REGINA_POSTAL_CODE)
    response = fill_letter(client, campaign, letter_data(**data))
    assert response.status_code == 302, html_of(response)[:3000]
    with capture(execute=True):
        send(client, campaign)
        letter = Letter.objects.get()
        client.post(f"/letters/confirm/{letter.confirmation_token}/")
    letter.refresh_from_db()
    return letter


def test_the_letter_step_offers_the_hold_where_nobody_can_be_emailed(client, campaign, regina):
    choose_council(client, campaign, postal_code=REGINA_POSTAL_CODE)
    html = html_of(client.get("/campaigns/cams/write/"))

    assert "We have no email address for this council yet. Your letter still counts" in html
    assert f'href="{WEBSITE}"' in html
    assert 'name="hold_consent"' in html
    assert "Send my letter when you add my council" in html
    assert "Privacy Org will send your letter to the council once its contacts are added" in html
    assert 'name="recipients"' not in html


def test_the_letter_step_has_no_hold_where_someone_can_be_emailed(client, campaign, council):
    choose_council(client, campaign)
    html = html_of(client.get("/campaigns/cams/write/"))
    assert 'name="hold_consent"' not in html


def test_a_crafted_hold_for_a_council_with_contacts_is_ignored(
    client, campaign, council, django_capture_on_commit_callbacks
):
    choose_council(client, campaign)
    fill_letter(
        client,
        campaign,
        letter_data(recipients=[rep.pk for rep in council["emailable"]], hold_consent="on"),
    )
    with django_capture_on_commit_callbacks(execute=True):
        send(client, campaign)
    letter = Letter.objects.get()
    assert (letter.hold_consent, letter.hold_consent_text) == (False, "")


def test_the_preview_says_the_letter_waits_for_the_councils_contacts(client, campaign, regina):
    choose_council(client, campaign, postal_code=REGINA_POSTAL_CODE)
    fill_letter(client, campaign, letter_data(hold_consent="on"))
    html = html_of(client.get("/campaigns/cams/preview/"))

    assert "Your council, once we add its contacts" in html
    assert "we will send it to the council once we add its contacts" in html


def test_the_preview_without_the_hold_says_the_letter_is_to_copy(client, campaign, regina):
    choose_council(client, campaign, postal_code=REGINA_POSTAL_CODE)
    fill_letter(client, campaign, letter_data())
    html = html_of(client.get("/campaigns/cams/preview/"))

    assert "Nobody by email (see below)" in html
    assert "then we will show it to you to copy" in html


def test_a_held_letter_ends_on_a_thank_you_page_with_the_letter_to_copy(
    client, campaign, regina, django_capture_on_commit_callbacks
):
    letter = write_to_regina(
        client, campaign, django_capture_on_commit_callbacks, hold_consent="on"
    )
    assert letter.hold_reason == Letter.HoldReason.NO_CONTACTS
    assert letter.hold_consent_text.startswith("Send my letter when you add my council.")

    html = html_of(client.get("/campaigns/cams/thanks/"))

    assert "Your letter to the council of Regina is counted." in html
    assert "We will send your letter to the council as soon as we add its contacts" in html
    assert "Your letter, to copy" in html
    assert f'<a href="{WEBSITE}" rel="noopener noreferrer">' in html
    assert 'id="letter-copy-body"' in html and "My street has three new cameras." in html
    assert "<strong>1</strong> letter sent" in html
    assert "Each councillor receives your letter" not in html


def test_without_the_hold_the_thank_you_page_says_to_send_it_yourself(
    client, campaign, regina, django_capture_on_commit_callbacks
):
    letter = write_to_regina(client, campaign, django_capture_on_commit_callbacks)
    assert letter.held_since is None

    html = html_of(client.get("/campaigns/cams/thanks/"))

    assert "so your letter was not sent by email. Copy it below" in html
    assert "Your letter, to copy" in html and WEBSITE in html
    assert mail.outbox[-1].subject.startswith("Your copy: ")


def test_a_letter_held_after_an_election_says_so_on_the_thank_you_page(
    client, campaign, council, django_capture_on_commit_callbacks
):
    ottawa = council["municipality"]
    ottawa.election_date = timezone.localdate() - timedelta(days=5)
    ottawa.roster_checked_at = timezone.now() - timedelta(days=90)
    ottawa.save()
    choose_council(client, campaign)
    fill_letter(client, campaign, letter_data(recipients=[council["mayor"].pk]))
    with django_capture_on_commit_callbacks(execute=True):
        send(client, campaign)
        letter = Letter.objects.get()
        client.post(f"/letters/confirm/{letter.confirmation_token}/")

    html = html_of(client.get("/campaigns/cams/thanks/"))

    date = date_format(ottawa.election_date, "DATE_FORMAT")
    assert f"Your letter waits for the new council after the election of {date}" in html
    assert "Your letter, to copy" not in html  # not to the members who may be gone
    assert "Send it yourself" not in html


# --- The status page --------------------------------------------------------------------------


def status_html(client, letter) -> str:
    response = client.get(f"/letters/{letter.token}/")
    assert response.status_code == 200
    return html_of(response)


def test_the_status_page_of_a_letter_waiting_for_contacts(
    client, campaign, django_capture_on_commit_callbacks
):
    letter = submit(campaign, no_contacts_council())
    with django_capture_on_commit_callbacks(execute=True):
        services.letter_confirm(token=letter.confirmation_token)
    letter.refresh_from_db()

    html = status_html(client, letter)

    assert "has been waiting for the council's contacts since" in html
    assert "We will send it as soon as we add them" in html
    assert f'href="{WEBSITE}"' in html
    assert "<table" not in html  # no recipients yet


def test_the_status_page_of_a_letter_held_after_an_election(
    client, campaign, council, django_capture_on_commit_callbacks
):
    ottawa = council["municipality"]
    ottawa.election_date = timezone.localdate() - timedelta(days=5)
    ottawa.roster_checked_at = None
    ottawa.save()
    letter = submit(campaign, ottawa, representatives=[council["mayor"]], postal_code="K1A 0B1")
    with django_capture_on_commit_callbacks(execute=True):
        services.letter_confirm(token=letter.confirmation_token)
    letter.refresh_from_db()
    assert letter.hold_reason == Letter.HoldReason.ELECTION

    html = status_html(client, letter)

    assert "Your letter waits for the new council after the election of" in html
    assert "<table" not in html  # no recipients until the new council's contacts are in


def test_the_status_page_of_a_held_letter_that_went_out(
    client, campaign, django_capture_on_commit_callbacks
):
    regina = no_contacts_council()
    letter = submit(campaign, regina)
    with django_capture_on_commit_callbacks(execute=True):
        services.letter_confirm(token=letter.confirmation_token)
    import_roster(regina, ("Nadia New", "nadia@regina.example.org", "mayor"))
    with django_capture_on_commit_callbacks(execute=True):
        assert services.held_letters_release() == 1

    html = status_html(client, letter)

    assert "was sent on" in html and "once we had the council's contacts" in html
    assert "Nadia New" in html and "Sent" in html


def test_the_status_page_of_a_held_letter_erased_before_it_went_out(
    client, campaign, django_capture_on_commit_callbacks
):
    letter = submit(campaign, no_contacts_council())
    with django_capture_on_commit_callbacks(execute=True):
        services.letter_confirm(token=letter.confirmation_token)
        services.letter_delete_request(letter=letter)

    html = status_html(client, letter)

    assert "Your personal data was deleted while your letter was waiting" in html


def test_the_status_page_of_a_held_letter_whose_campaign_closed(
    client, campaign, django_capture_on_commit_callbacks
):
    letter = submit(campaign, no_contacts_council())
    with django_capture_on_commit_callbacks(execute=True):
        services.letter_confirm(token=letter.confirmation_token)
    Campaign.objects.filter(pk=campaign.pk).update(status=Campaign.Status.CLOSED)

    html = status_html(client, letter)

    assert "The campaign closed before we had your council's contacts" in html


def test_the_status_page_of_a_letter_nobody_could_be_emailed(
    client, campaign, django_capture_on_commit_callbacks
):
    letter = submit(campaign, no_contacts_council(), hold=False)
    with django_capture_on_commit_callbacks(execute=True):
        services.letter_confirm(token=letter.confirmation_token)

    html = status_html(client, letter)

    assert "so your letter was not sent by email" in html
    assert f'href="{WEBSITE}"' in html


def test_the_status_page_of_a_letter_awaiting_confirmation_says_nothing_of_holds(client, campaign):
    letter = submit(campaign, no_contacts_council())

    html = status_html(client, letter)

    assert "Waiting for email confirmation" in html
    assert "not sent by email" not in html and "waiting for the council" not in html
    assert not Delivery.objects.exists()
