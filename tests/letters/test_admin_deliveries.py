"""Delivery admin: health counts, resend failed, the inline on letters, the local outbox."""

import pytest
from django.core import mail
from django.urls import reverse

from letters.models import Delivery, OutboxMessage, OutgoingMail
from tests.letters.delivery_helpers import fail_deliveries, make_letter

pytestmark = pytest.mark.django_db


def test_the_delivery_list_shows_health_counts_per_campaign(staff_client):
    letter = make_letter(recipients=3)
    first, second, _third = letter.deliveries.order_by("pk")
    Delivery.objects.filter(pk=first.pk).update(status=Delivery.Status.FAILED)
    Delivery.objects.filter(pk=second.pk).update(status=Delivery.Status.SENT)

    response = staff_client.get(reverse("admin:letters_delivery_changelist"))

    assert response.status_code == 200
    (row,) = response.context["health"]
    assert row["slug"] == letter.campaign.slug
    assert row["counts"] == {"failed": 1, "sent": 1, "pending": 1}
    assert row["total"] == 3
    assert b"Delivery health per campaign" in response.content


def test_the_delivery_list_is_for_staff_only(client, user):
    client.force_login(user)
    response = client.get(reverse("admin:letters_delivery_changelist"))
    assert response.status_code == 302


def test_the_resend_action_retries_failed_deliveries_only(
    staff_client, django_capture_on_commit_callbacks
):
    letter = make_letter(recipients=2)
    failed, sent = letter.deliveries.order_by("pk")
    (failed_mail,) = fail_deliveries([failed])
    Delivery.objects.filter(pk=sent.pk).update(status=Delivery.Status.SENT)

    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(
            reverse("admin:letters_delivery_changelist"),
            {"action": "resend_failed", "_selected_action": [failed.pk, sent.pk]},
            follow=True,
        )

    assert b"1 failed delivery queued for a new attempt." in response.content
    failed.refresh_from_db()
    assert failed.status == Delivery.Status.SENT
    assert len(mail.outbox) == 1
    assert failed.recipient_email in mail.outbox[0].to[0]
    # A new email, never the failed one again.
    assert failed.mail_id != failed_mail.pk
    assert failed.mail.status == OutgoingMail.Status.SENT and failed.mail.attempts == 1
    failed_mail.refresh_from_db()
    assert failed_mail.status == OutgoingMail.Status.FAILED


def test_the_letter_action_resends_its_failed_deliveries(
    staff_client, django_capture_on_commit_callbacks
):
    letter = make_letter(recipients=2)
    fail_deliveries(letter.deliveries.all())

    with django_capture_on_commit_callbacks(execute=True):
        staff_client.post(
            reverse("admin:letters_letter_changelist"),
            {"action": "resend_failed_deliveries", "_selected_action": [letter.pk]},
        )

    assert set(letter.deliveries.values_list("status", flat=True)) == {Delivery.Status.SENT}
    assert len(mail.outbox) == 2


def test_the_letter_page_shows_its_deliveries(staff_client):
    letter = make_letter(recipients=2)

    response = staff_client.get(reverse("admin:letters_letter_change", args=[letter.pk]))

    assert response.status_code == 200
    for delivery in letter.deliveries.all():
        assert delivery.recipient_email.encode() in response.content


def test_the_outbox_lists_kept_messages(staff_client):
    kept = OutboxMessage.objects.create(
        from_email="letters@example.org",
        to="rep@example.org",
        subject="Please act in Town",
        body="Dear Council",
        raw="...",
    )

    listing = staff_client.get(reverse("admin:letters_outboxmessage_changelist"))
    page = staff_client.get(reverse("admin:letters_outboxmessage_change", args=[kept.pk]))

    assert b"Please act in Town" in listing.content
    assert page.status_code == 200
