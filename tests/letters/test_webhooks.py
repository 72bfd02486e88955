"""ESP tracking webhooks (Postmark's documented payloads through anymail's real view)."""

import base64
import json

import pytest
from django.utils import timezone

from campaigns.models import Campaign
from letters.delivery_events import delivery_track
from letters.models import Delivery, OutgoingMail
from letters.services import letter_queue
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


# --- Failure kinds ---------------------------------------------------------------------------


def letter_mail(letter, *, status=OutgoingMail.Status.SENT, message_id=""):
    """An email to the council carrying this letter's deliveries."""
    mail = OutgoingMail.objects.create(
        kind=OutgoingMail.Kind.LETTER,
        letter=letter,
        campaign=letter.campaign,
        status=status,
        message_id=message_id,
    )
    letter.deliveries.update(mail=mail)
    return mail


@pytest.mark.parametrize(
    ("event_type", "reject_reason", "mta_response", "status", "failure", "bounces"),
    [
        ("rejected", "invalid", "", "failed", "unknown", 0),
        ("bounced", "bounced", "smtp;550 5.1.1 The account does not exist.", "bounced", "unknown", 1),
        ("bounced", "bounced", "552 5.2.2 Mailbox full", "bounced", "full", 0),
        ("bounced", "bounced", "smtp; 554 Mailbox over quota", "bounced", "full", 0),
        ("bounced", "timed_out", "Gave up after 72 hours", "bounced", "other", 1),
        ("rejected", "blocked", "", "failed", "blocked", 0),
        ("bounced", "other", "550 5.7.1 Client host blocked using zen.spamhaus.org", "bounced",
         "blocked", 0),
        ("complained", "spam", "", "complained", "complaint", 0),
        ("complained", None, "", "complained", "complaint", 0),
        ("rejected", "spam", "", "failed", "complaint", 0),
        ("rejected", "unsubscribed", "", "failed", "other", 0),
        ("failed", "other", "", "failed", "other", 0),
        ("bounced", None, "550 No such user here", "bounced", "unknown", 1),
    ],
)  # fmt: skip
def test_each_reject_reason_gives_its_failure_kind(
    event_type, reject_reason, mta_response, status, failure, bounces
):
    delivery = sent_delivery()

    changed = delivery_track(
        event_type=event_type,
        message_id=delivery.esp_message_id,
        recipient=delivery.recipient_email,
        description="",
        mta_response=mta_response,
        reject_reason=reject_reason,
        esp_name="ESP",
    )

    assert changed == [delivery.pk]
    delivery.refresh_from_db()
    assert (delivery.status, delivery.failure) == (status, failure)
    delivery.representative.refresh_from_db()
    assert delivery.representative.bounce_count == bounces


def test_a_postmark_hard_bounce_is_an_unknown_mailbox(client):
    delivery = sent_delivery()

    post(client, bounce_event(delivery), **auth())

    delivery.refresh_from_db()
    assert delivery.failure == Delivery.Failure.MAILBOX_UNKNOWN
    assert "does not exist" in delivery.last_error  # the server's reply is kept too


def test_a_postmark_spam_complaint_is_a_spam_complaint(client):
    delivery = sent_delivery()
    payload = {**bounce_event(delivery, kind="SpamComplaint"), "RecordType": "SpamComplaint"}

    post(client, payload, **auth())

    delivery.refresh_from_db()
    assert delivery.failure == Delivery.Failure.SPAM_COMPLAINT


def test_a_blocked_event_blocks_the_council_and_holds_its_queued_emails(client):
    delivery = sent_delivery()
    letter = delivery.letter
    letter_mail(letter)
    waiting = make_letter(recipients=1)
    waiting.municipality = letter.municipality
    waiting.save()
    queued = letter_mail(waiting, status=OutgoingMail.Status.QUEUED)
    waiting.deliveries.update(status=Delivery.Status.QUEUED)
    payload = {
        **bounce_event(delivery),
        "Type": "Blocked",
        "TypeCode": 100006,
        "Name": "ISP block",
        "Description": "The ISP has blocked this message.",
        "Details": "smtp;554 5.7.1 Service unavailable; Client host [198.51.100.7] blocked",
    }

    post(client, payload, **auth())

    delivery.refresh_from_db()
    assert (delivery.status, delivery.failure) == (Delivery.Status.FAILED, "blocked")
    letter.municipality.refresh_from_db()
    assert letter.municipality.mail_blocked_at is not None
    assert "blocked" in letter.municipality.mail_block_reason
    queued.refresh_from_db()
    assert queued.status == OutgoingMail.Status.HELD
    assert waiting.deliveries.get().status == Delivery.Status.HELD
    delivery.representative.refresh_from_db()
    assert delivery.representative.bounce_count == 0  # not the address's fault


def test_a_policy_bounce_on_a_residents_own_email_blocks_no_council():
    letter = make_letter(recipients=1)
    mail = OutgoingMail.objects.create(
        kind=OutgoingMail.Kind.TEST,
        letter=letter,
        campaign=letter.campaign,
        status=OutgoingMail.Status.SENT,
        message_id="<test.1.abc@example.org>",
    )
    letter.deliveries.update(mail=mail, status=Delivery.Status.SENT)

    delivery_track(
        event_type="bounced",
        message_id="<test.1.abc@example.org>",
        recipient="",
        reject_reason="blocked",
    )

    letter.municipality.refresh_from_db()
    assert letter.municipality.mail_blocked_at is None


def test_a_digest_bounce_counts_once_for_its_representative():
    first = make_letter(recipients=1)
    rep = first.deliveries.get().representative
    second = make_letter(recipients=1)
    second.deliveries.update(representative=rep, recipient_email=rep.email)
    mail = OutgoingMail.objects.create(
        kind=OutgoingMail.Kind.DIGEST,
        campaign=first.campaign,
        status=OutgoingMail.Status.SENT,
        message_id="<digest.3.abc@example.org>",
    )
    Delivery.objects.filter(representative=rep).update(mail=mail, status=Delivery.Status.SENT)

    changed = delivery_track(
        event_type="bounced",
        message_id="<digest.3.abc@example.org>",
        recipient=rep.email,
        mta_response="550 5.1.1 user unknown",
    )

    assert len(changed) == 2
    rep.refresh_from_db()
    assert rep.bounce_count == 1
