"""ESP tracking webhooks (Postmark's documented payloads through anymail's real view)."""

import base64
import json

import pytest
from django.utils import timezone

from campaigns.models import Campaign
from letters.models import Delivery, OutgoingMail
from letters.services import delivery_track, letter_queue
from tests.factories import CampaignFactory
from tests.letters.delivery_helpers import make_letter

pytestmark = pytest.mark.django_db

URL = "/anymail/postmark/tracking/"
SECRET = "tracker:s3cret-webhook-password"


@pytest.fixture(autouse=True)
def _postmark(settings, reload_urls):
    # The webhooks are mounted only with an ESP (config/urls.py).
    settings.ANYMAIL_ESP = "postmark"
    settings.ANYMAIL = {**settings.ANYMAIL, "WEBHOOK_SECRET": SECRET}
    reload_urls()


def auth(secret: str = SECRET) -> dict:
    return {"HTTP_AUTHORIZATION": "Basic " + base64.b64encode(secret.encode()).decode()}


def sent_delivery(esp_message_id="883953f4-6105-42a2-a16a-77a8eac79483", letter=None):
    letter = letter or make_letter(recipients=1)
    delivery = letter.deliveries.get()
    Delivery.objects.filter(pk=delivery.pk).update(
        status=Delivery.Status.SENT, sent_at=timezone.now(), esp_message_id=esp_message_id
    )
    delivery.refresh_from_db()
    return delivery


def post(client, payload, **extra):
    return client.post(URL, json.dumps(payload), content_type="application/json", **extra)


def delivery_event(delivery):
    return {
        "RecordType": "Delivery",
        "ServerID": 23,
        "MessageStream": "outbound",
        "MessageID": delivery.esp_message_id,
        "Recipient": delivery.recipient_email,
        "Tag": "",
        "DeliveredAt": "2026-11-21T16:33:54.9070259Z",
        "Details": "Test delivery webhook details",
        "Metadata": {},
    }


def bounce_event(delivery, kind="HardBounce", event_id=4323372036854775807):
    return {
        "RecordType": "Bounce",
        "MessageStream": "outbound",
        "ID": event_id,
        "Type": kind,
        "TypeCode": 1,
        "Name": "Hard bounce",
        "Tag": "",
        "MessageID": delivery.esp_message_id,
        "Metadata": {},
        "ServerID": 23,
        "Description": "The server was unable to deliver your message (ex: unknown user).",
        "Details": "smtp;550 5.1.1 The email account that you tried to reach does not exist.",
        "Email": delivery.recipient_email,
        "From": "letters@example.org",
        "BouncedAt": "2026-11-21T16:33:54.9070259Z",
        "DumpAvailable": False,
        "Inactive": True,
        "CanActivate": True,
        "Subject": "Please act",
    }


def test_it_marks_a_delivery_delivered(client):
    delivery = sent_delivery()

    response = post(client, delivery_event(delivery), **auth())

    assert response.status_code == 200
    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.DELIVERED
    assert delivery.delivered_at.year == 2026


def test_it_marks_a_hard_bounce_and_counts_it_once(client):
    delivery = sent_delivery()

    post(client, bounce_event(delivery), **auth())
    post(client, bounce_event(delivery), **auth())  # ESPs repeat webhooks

    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.BOUNCED
    assert "unable to deliver" in delivery.last_error
    delivery.representative.refresh_from_db()
    assert delivery.representative.bounce_count == 1


def test_a_soft_bounce_changes_nothing(client):
    delivery = sent_delivery()

    post(client, bounce_event(delivery, kind="SoftBounce"), **auth())

    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.SENT
    delivery.representative.refresh_from_db()
    assert delivery.representative.bounce_count == 0


def test_a_later_delivered_event_does_not_undo_a_bounce(client):
    delivery = sent_delivery()

    post(client, bounce_event(delivery), **auth())
    post(client, delivery_event(delivery), **auth())

    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.BOUNCED


def test_it_marks_a_spam_complaint(client):
    delivery = sent_delivery()
    payload = {
        **bounce_event(delivery, kind="SpamComplaint"),
        "RecordType": "SpamComplaint",
    }

    post(client, payload, **auth())

    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.COMPLAINED


def test_three_hard_bounces_flag_the_address_and_later_letters_skip_it(
    client, django_capture_on_commit_callbacks
):
    first = sent_delivery("id-1")
    rep = first.representative
    for n, letter in enumerate([make_letter(recipients=1) for _ in range(2)], start=2):
        letter.deliveries.update(representative=rep, recipient_email=rep.email)
        sent_delivery(f"id-{n}", letter=letter)
    for delivery in Delivery.objects.filter(representative=rep):
        post(client, bounce_event(delivery, event_id=delivery.pk), **auth())

    rep.refresh_from_db()
    assert rep.bounce_count == 3
    assert rep.email_flagged

    later = make_letter(recipients=1)
    later.deliveries.update(representative=rep, recipient_email=rep.email)
    with django_capture_on_commit_callbacks(execute=True):
        letter_queue(letter=later)
    assert later.deliveries.get().status == Delivery.Status.NO_EMAIL


def test_a_delivered_event_resets_the_bounce_count_below_the_limit(client):
    delivery = sent_delivery()
    delivery.representative.bounce_count = 2
    delivery.representative.save()

    post(client, delivery_event(delivery), **auth())

    delivery.representative.refresh_from_db()
    assert delivery.representative.bounce_count == 0


@pytest.mark.parametrize(
    "extra",
    [{}, auth("tracker:wrong-password"), auth("someone:s3cret-webhook-password")],
    ids=["no credentials", "wrong password", "wrong user"],
)
def test_it_refuses_a_forged_webhook(client, extra):
    delivery = sent_delivery()

    response = post(client, bounce_event(delivery), **extra)

    assert response.status_code in (400, 403)
    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.SENT
    delivery.representative.refresh_from_db()
    assert delivery.representative.bounce_count == 0


def test_it_ignores_events_for_unknown_messages(client):
    delivery = sent_delivery()
    payload = {**delivery_event(delivery), "MessageID": "not-ours"}

    assert post(client, payload, **auth()).status_code == 200
    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.SENT


def test_it_finds_deliveries_by_their_emails_message_id(client):
    """Without an ESP id (SMTP relays report by Message-ID), the email's own id names them;
    on a whole-council email only the recipient the event names changes."""
    letter = make_letter(campaign=CampaignFactory(send_mode=Campaign.SendMode.TOGETHER))
    mail = OutgoingMail.objects.create(
        kind=OutgoingMail.Kind.LETTER,
        letter=letter,
        campaign=letter.campaign,
        status=OutgoingMail.Status.SENT,
        message_id="<letter.7.0123abcd@example.org>",
    )
    letter.deliveries.update(status=Delivery.Status.SENT, mail=mail)
    bounced, other = letter.deliveries.order_by("pk")

    changed = delivery_track(
        event_type="bounced",
        message_id="<letter.7.0123abcd@example.org>",
        recipient=bounced.recipient_email.upper(),
        description="550 no such user",
        esp_name="Relay",
    )

    assert changed == [bounced.pk]
    bounced.refresh_from_db()
    other.refresh_from_db()
    assert bounced.status == Delivery.Status.BOUNCED
    assert bounced.last_error == "Relay bounced: 550 no such user"
    assert other.status == Delivery.Status.SENT
    bounced.representative.refresh_from_db()
    assert bounced.representative.bounce_count == 1


def test_it_ignores_events_it_does_not_track_and_events_without_a_message_id():
    delivery = sent_delivery()

    assert (
        delivery_track(event_type="opened", message_id=delivery.esp_message_id, recipient="") == []
    )
    assert delivery_track(event_type="bounced", message_id="", recipient="") == []
    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.SENT
