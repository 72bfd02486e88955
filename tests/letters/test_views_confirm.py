# ruff: noqa: F811  (pytest fixtures imported from journey_helpers)
"""Confirmation links, their expiry and reuse, and the letter status page."""

import re
from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.utils import timezone

from letters.models import Delivery, Letter
from tests.letters.journey_helpers import (  # noqa: F401
    campaign,
    council,
    journey_settings,
    letter_data,
    write_and_send,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("journey_settings")]


@pytest.fixture
def pending(client, campaign, council, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        write_and_send(
            client,
            campaign,
            letter_data(recipients=[rep.pk for rep in council["emailable"]]),
        )
    return Letter.objects.get()


def confirm_link(message) -> str:
    line = next(line for line in message.body.splitlines() if "/letters/confirm/" in line)
    return line.strip().removeprefix("http://testserver")


def test_the_email_link_confirms_and_shows_the_thanks_page(
    client, pending, campaign, django_capture_on_commit_callbacks
):
    link = confirm_link(mail.outbox[0])
    assert "/letters/confirm/" in mail.outbox[0].alternatives[0][0]
    page = client.get(link)
    assert page.status_code == 200
    html = page.content.decode()
    assert "Send my letter" in html and "Mara Mayor" in html and pending.subject in html
    assert "Nora Noemail" not in html  # no email: not among those it goes to
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(link)
    assert response["Location"] == "/campaigns/cams/thanks/"
    pending.refresh_from_db()
    assert pending.status == Letter.Status.CONFIRMED
    assert not pending.deliveries.filter(status=Delivery.Status.PENDING_CONFIRMATION).exists()
    campaign.refresh_from_db()
    assert campaign.letters_count == 1
    html = client.get("/campaigns/cams/thanks/").content.decode()
    assert "Thank you!" in html
    assert "<strong>1</strong> letter sent" in html


def test_the_link_works_from_another_browser(pending):
    from django.test import Client

    other = Client(enforce_csrf_checks=True)
    link = confirm_link(mail.outbox[0])
    page = other.get(link)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.content.decode())
    response = other.post(link, {"csrfmiddlewaretoken": token.group(1)})
    assert response["Location"] == "/campaigns/cams/thanks/"
    assert "Thank you!" in other.get("/campaigns/cams/thanks/").content.decode()


def test_a_second_click_shows_the_status_not_an_error(client, pending, campaign):
    link = confirm_link(mail.outbox[0])
    client.post(link)
    assert client.get(link)["Location"] == f"/letters/{pending.token}/"
    response = client.post(link, follow=True)
    assert response.status_code == 200
    assert response.redirect_chain[-1][0] == f"/letters/{pending.token}/"
    html = response.content.decode()
    assert "already confirmed" in html
    assert "Mara Mayor" in html
    campaign.refresh_from_db()
    assert campaign.letters_count == 1


def test_an_expired_link_offers_a_new_one(client, pending, django_capture_on_commit_callbacks):
    link = confirm_link(mail.outbox[0])
    with time_machine.travel(timezone.now() + timedelta(days=8)):
        response = client.get(link)
        assert "This link has expired" in response.content.decode()
        pending.refresh_from_db()
        assert pending.status == Letter.Status.PENDING_CONFIRMATION
        with django_capture_on_commit_callbacks(execute=True):
            client.post(link + "resend/")
        assert len(mail.outbox) == 2
        fresh = confirm_link(mail.outbox[1])
        assert fresh != link
        assert client.post(fresh)["Location"] == "/campaigns/cams/thanks/"


def test_an_unknown_link_is_404(client, db):
    assert client.get("/letters/confirm/nope/").status_code == 404
    assert client.post("/letters/confirm/nope/").status_code == 404


def test_opening_the_link_sends_nothing(client, pending, campaign):
    """Mail scanners open every link in an email: only the button confirms."""
    link = confirm_link(mail.outbox[0])
    for _ in range(3):
        assert client.get(link).status_code == 200
        assert client.head(link).status_code == 200
    pending.refresh_from_db()
    assert pending.status == Letter.Status.PENDING_CONFIRMATION
    assert set(pending.deliveries.values_list("status", flat=True)) <= {
        Delivery.Status.PENDING_CONFIRMATION,
        Delivery.Status.NO_EMAIL,
    }
    campaign.refresh_from_db()
    assert campaign.letters_count == 0


def test_the_french_letter_is_confirmed_in_french(
    client, campaign, council, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        write_and_send(
            client,
            campaign,
            letter_data(recipients=[rep.pk for rep in council["emailable"]]),
            prefix="/fr",
        )
    link = confirm_link(mail.outbox[0])
    assert link.startswith("/fr/letters/confirm/")
    assert "Envoyer ma lettre" in client.get(link).content.decode()
    assert client.post(link)["Location"] == "/fr/campaigns/cams/thanks/"


def test_the_status_page_lists_each_recipient(client, pending):
    html = client.get(f"/letters/{pending.token}/").content.decode()
    assert "Waiting for confirmation" in html
    assert "Nora Noemail" in html
    assert pending.subject in html


def test_an_unknown_status_token_is_404(client, db):
    assert client.get("/letters/nope/").status_code == 404


def test_confirming_needs_the_pages_csrf_token(pending):
    from django.test import Client

    assert Client(enforce_csrf_checks=True).post(confirm_link(mail.outbox[0])).status_code == 403
    pending.refresh_from_db()
    assert pending.status == Letter.Status.PENDING_CONFIRMATION


def test_a_closed_campaign_takes_no_more_confirmations(
    client, pending, campaign, django_capture_on_commit_callbacks
):
    link = confirm_link(mail.outbox[0])
    campaign.closes_at = timezone.now() - timedelta(minutes=1)
    campaign.save()
    mail.outbox.clear()
    assert "This campaign has closed" in client.get(link).content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(link)
    html = response.content.decode()
    assert response.status_code == 200
    assert "This campaign has closed" in html
    assert "copy the letter below" in html and pending.body.splitlines()[0] in html
    # The letter is plain text to copy, or to open in an email program.
    assert 'id="closed-letter-body"' in html and 'href="mailto:?subject=' in html
    pending.refresh_from_db()
    assert pending.status == Letter.Status.PENDING_CONFIRMATION
    assert mail.outbox == []
    campaign.refresh_from_db()
    assert campaign.letters_count == 0


def test_a_grace_period_lets_letters_written_before_closing_be_confirmed(
    client, pending, campaign, journey_settings, django_capture_on_commit_callbacks
):
    journey_settings.LETTERS_CONFIRMATION_GRACE_HOURS = 24
    link = confirm_link(mail.outbox[0])
    campaign.closes_at = timezone.now() - timedelta(hours=2)
    campaign.save()
    with django_capture_on_commit_callbacks(execute=True):
        client.post(link)
    pending.refresh_from_db()
    assert pending.status == Letter.Status.CONFIRMED
    assert campaign.accepts_confirmations()
    # A campaign closed by hand takes none, grace or not.
    campaign.status = campaign.Status.CLOSED
    assert not campaign.accepts_confirmations()
