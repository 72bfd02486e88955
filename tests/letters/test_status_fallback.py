"""The status page shows a resident how to reach a recipient their letter did not reach: the
address bounced, or the council's mail server blocks our mail."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from letters.models import Delivery
from tests.letters.delivery_helpers import make_letter

pytestmark = pytest.mark.django_db


def page(client, letter) -> str:
    response = client.get(f"/letters/{letter.token}/")
    assert response.status_code == 200
    return response.content.decode()


def with_contacts(delivery, *, phone="613-555-0100", contact_url="https://town.example.ca/form"):
    rep = delivery.representative
    rep.phone, rep.contact_url = phone, contact_url
    rep.save()


def test_a_bounced_delivery_shows_the_phone_form_clerk_and_letter(client):
    letter = make_letter(recipients=1)
    letter.municipality.clerk_email = "clerk@town.example.ca"
    letter.municipality.save()
    delivery = letter.deliveries.get()
    with_contacts(delivery)
    Delivery.objects.filter(pk=delivery.pk).update(
        status=Delivery.Status.BOUNCED, failure=Delivery.Failure.MAILBOX_UNKNOWN
    )

    content = page(client, letter)

    assert "Our email could not be delivered to this address." in content
    assert "Reach them another way:" in content
    assert 'href="tel:+16135550100"' in content
    assert 'href="https://town.example.ca/form"' in content
    assert "the council's clerk:" in content
    assert 'href="mailto:clerk@town.example.ca?subject=Please%20act%20in%20' in content
    assert 'href="#letter-text"' in content
    assert 'id="letter-text"' in content
    # The address that bounced is not offered again.
    assert f"mailto:{delivery.recipient_email}" not in content


def test_a_council_that_blocks_our_mail_leaves_the_residents_own_email(client):
    letter = make_letter(recipients=1)
    Delivery.objects.filter(letter=letter).update(status=Delivery.Status.HELD)
    delivery = letter.deliveries.get()

    content = page(client, letter)

    assert "refuses our emails, not yours" in content
    assert f'href="mailto:{delivery.recipient_email}?subject=' in content
    assert "the council's clerk" not in content  # no clerk address on file


def test_a_delivery_waiting_for_a_blocked_council_shows_the_fallback(client):
    letter = make_letter(recipients=1, status=Delivery.Status.QUEUED)
    letter.municipality.mail_blocked_at = timezone.now()
    letter.municipality.save()

    content = page(client, letter)

    assert "refuses our emails" in content


def test_a_policy_bounce_is_shown_as_a_block(client):
    letter = make_letter(recipients=1, status=Delivery.Status.BOUNCED)
    letter.deliveries.update(failure=Delivery.Failure.POLICY_BLOCK)

    assert "refuses our emails" in page(client, letter)


@pytest.mark.parametrize("status", [Delivery.Status.SENT, Delivery.Status.DELIVERED])
def test_a_delivery_on_its_way_or_arrived_shows_no_fallback(client, status):
    letter = make_letter(recipients=1, status=status)
    letter.municipality.clerk_email = "clerk@town.example.ca"
    letter.municipality.mail_blocked_at = timezone.now()  # blocked after it arrived
    letter.municipality.save()
    with_contacts(letter.deliveries.get())

    content = page(client, letter)

    assert "Reach them another way" not in content
    assert "refuses our emails" not in content


def test_a_bounced_letter_to_the_clerk_does_not_offer_the_clerk_again(client):
    letter = make_letter(recipients=0)
    letter.municipality.clerk_email = "clerk@town.example.ca"
    letter.municipality.save()
    Delivery.objects.create(
        letter=letter,
        to_clerk=True,
        recipient_name="Clerk, Town",
        recipient_email="clerk@town.example.ca",
        status=Delivery.Status.BOUNCED,
    )

    content = page(client, letter)

    assert "Our email could not be delivered to this address." in content
    assert "mailto:clerk@town.example.ca" not in content


def test_the_fallback_costs_no_query_per_recipient(client):
    def queries(recipients: int) -> int:
        letter = make_letter(recipients=recipients, status=Delivery.Status.BOUNCED)
        with CaptureQueriesContext(connection) as captured:
            page(client, letter)
        return len(captured)

    assert queries(1) == queries(4)
