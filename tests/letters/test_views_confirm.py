# ruff: noqa: F811  (pytest fixtures imported from journey_helpers)
"""Confirmation links, their expiry and reuse, and the letter status page."""

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
    with django_capture_on_commit_callbacks(execute=True):
        response = client.get(link)
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

    other = Client()
    response = other.get(confirm_link(mail.outbox[0]))
    assert response["Location"] == "/campaigns/cams/thanks/"
    assert "Thank you!" in other.get("/campaigns/cams/thanks/").content.decode()


def test_a_second_click_shows_the_status_not_an_error(client, pending, campaign):
    link = confirm_link(mail.outbox[0])
    client.get(link)
    response = client.get(link, follow=True)
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
        assert client.get(fresh)["Location"] == "/campaigns/cams/thanks/"


def test_an_unknown_link_is_404(client, db):
    assert client.get("/letters/confirm/nope/").status_code == 404


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
    assert client.get(link)["Location"] == "/fr/campaigns/cams/thanks/"


def test_the_status_page_lists_each_recipient(client, pending):
    html = client.get(f"/letters/{pending.token}/").content.decode()
    assert "Waiting for confirmation" in html
    assert "Nora Noemail" in html
    assert pending.subject in html


def test_an_unknown_status_token_is_404(client, db):
    assert client.get("/letters/nope/").status_code == 404


def test_confirm_rejects_post(client, pending):
    assert client.post(confirm_link(mail.outbox[0])).status_code == 405
