"""Forged ESP tracking events (/anymail/<esp>/tracking/): one forged "bounced" raises a
councillor's bounce count, three take the councillor out of every letter. The webhooks exist
only with an ESP, and only with ANYMAIL_WEBHOOK_SECRET."""

import base64
import importlib
import json

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.urls import resolve
from django.utils import timezone

from config.urls import anymail_urlpatterns
from letters.models import Delivery
from tests.letters.delivery_helpers import make_letter

pytestmark = pytest.mark.django_db

SECRET = "tracker:s3cret-webhook-password"
MESSAGE_ID = "883953f4-6105-42a2-a16a-77a8eac79483"


def sent_delivery() -> Delivery:
    delivery = make_letter(recipients=1).deliveries.get()
    Delivery.objects.filter(pk=delivery.pk).update(
        status=Delivery.Status.SENT, sent_at=timezone.now(), esp_message_id=MESSAGE_ID
    )
    delivery.refresh_from_db()
    return delivery


def forged_bounce(esp: str, delivery: Delivery):
    """Each ESP's own shape of a hard bounce of the delivery."""
    email = delivery.recipient_email
    if esp == "postmark":
        return {
            "RecordType": "Bounce",
            "ID": 42,
            "Type": "HardBounce",
            "TypeCode": 1,
            "MessageID": MESSAGE_ID,
            "Email": email,
            "BouncedAt": "2026-11-21T16:33:54Z",
            "Description": "forged",
        }
    if esp == "sendgrid":
        return [
            {
                "event": "bounce",
                "email": email,
                "sg_message_id": MESSAGE_ID,
                "smtp-id": f"<{MESSAGE_ID}>",
                "timestamp": 1700000000,
                "type": "bounce",
                "reason": "forged",
            }
        ]
    return {  # mailgun
        "signature": {"timestamp": "1700000000", "token": "x" * 50, "signature": "0" * 64},
        "event-data": {
            "event": "failed",
            "severity": "permanent",
            "timestamp": 1700000000,
            "id": "forged",
            "recipient": email,
            "message": {"headers": {"message-id": MESSAGE_ID}},
            "delivery-status": {"code": 550, "message": "forged"},
        },
    }


def post(client, esp, payload, **extra):
    return client.post(
        f"/anymail/{esp}/tracking/", json.dumps(payload), content_type="application/json", **extra
    )


def basic_auth(secret: str = SECRET) -> dict:
    return {"HTTP_AUTHORIZATION": "Basic " + base64.b64encode(secret.encode()).decode()}


def assert_not_bounced(delivery: Delivery) -> None:
    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.SENT
    delivery.representative.refresh_from_db()
    assert delivery.representative.bounce_count == 0


@pytest.mark.parametrize("esp", ["mailgun", "postmark", "sendgrid"])
def test_under_smtp_there_is_no_webhook_to_forge(client, settings, reload_urls, esp):
    settings.ANYMAIL_ESP = ""
    settings.ANYMAIL = {}
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    reload_urls()
    delivery = sent_delivery()

    response = post(client, esp, forged_bounce(esp, delivery))

    assert response.status_code == 404
    assert_not_bounced(delivery)


@pytest.fixture
def postmark(settings, reload_urls):
    settings.ANYMAIL_ESP = "postmark"
    settings.ANYMAIL = {"POSTMARK_SERVER_TOKEN": "x", "WEBHOOK_SECRET": SECRET}
    reload_urls()


@pytest.mark.usefixtures("postmark")
@pytest.mark.parametrize(
    "extra",
    [{}, basic_auth("tracker:wrong"), {"HTTP_AUTHORIZATION": "Bearer nonsense"}],
    ids=["no credentials", "wrong password", "not basic auth"],
)
def test_with_an_esp_a_forged_event_is_refused(client, extra):
    delivery = sent_delivery()

    response = post(client, "postmark", forged_bounce("postmark", delivery), **extra)

    assert response.status_code in (400, 401, 403)
    assert_not_bounced(delivery)


@pytest.mark.usefixtures("postmark")
def test_with_an_esp_its_own_event_with_the_secret_is_accepted(client):
    delivery = sent_delivery()

    response = post(client, "postmark", forged_bounce("postmark", delivery), **basic_auth())

    assert response.status_code == 200
    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.BOUNCED


@pytest.mark.usefixtures("postmark")
@pytest.mark.parametrize("esp", ["mailgun", "sendgrid", "amazon_ses", "mandrill"])
def test_with_an_esp_other_esps_webhooks_do_not_exist(client, esp):
    # Another ESP's endpoint, with no keys of its own configured, would answer 500.
    delivery = sent_delivery()

    response = post(client, esp, forged_bounce(esp, delivery), **basic_auth())

    assert response.status_code == 404
    assert_not_bounced(delivery)


@pytest.mark.parametrize(
    ("esp", "keys"),
    [
        ("brevo", {}),
        ("mailersend", {"MAILERSEND_SIGNING_SECRET": "signing-secret"}),
        ("mailgun", {"MAILGUN_WEBHOOK_SIGNING_KEY": "signing-key"}),
        ("mailjet", {}),
        ("postmark", {}),
        ("sendgrid", {}),
        ("sparkpost", {}),
    ],
)
def test_no_esp_webhook_answers_500_without_credentials(client, settings, reload_urls, esp, keys):
    # Each ESP set up as its anymail documentation asks (some sign their webhooks too).
    settings.ANYMAIL_ESP = esp
    settings.ANYMAIL = {"WEBHOOK_SECRET": SECRET, **keys}
    reload_urls()
    for body in (b"", b"not json", json.dumps({"event": "bounce"}).encode()):
        response = client.post(f"/anymail/{esp}/tracking/", body, content_type="application/json")
        assert response.status_code in (400, 401, 403), (esp, body, response.status_code)


def test_the_webhook_urls_follow_the_esp():
    assert anymail_urlpatterns("") == []
    [mount] = anymail_urlpatterns("postmark")
    assert [str(p.pattern) for p in mount.url_patterns] == ["postmark/tracking/"]
    [mount] = anymail_urlpatterns("mandrill")
    assert [str(p.pattern) for p in mount.url_patterns] == ["mandrill/", "mandrill/tracking/"]


@pytest.mark.usefixtures("postmark")
def test_the_mounted_webhook_keeps_its_name():
    assert resolve("/anymail/postmark/tracking/").view_name == "anymail:postmark_tracking_webhook"


def _reload_settings(monkeypatch, **env) -> dict:
    """config.settings' values under these environment variables (then reloaded as before)."""
    import config.settings as module

    for name, value in env.items():
        monkeypatch.setenv(name, value)
    try:
        return dict(vars(importlib.reload(module)))
    finally:
        for name in env:
            monkeypatch.delenv(name)
        importlib.reload(module)


def test_an_esp_without_a_webhook_secret_stops_the_start(monkeypatch):
    with pytest.raises(ImproperlyConfigured, match="ANYMAIL_WEBHOOK_SECRET"):
        _reload_settings(monkeypatch, ANYMAIL_ESP="postmark", ANYMAIL_POSTMARK_SERVER_TOKEN="x")


def test_an_esp_with_a_webhook_secret_starts(monkeypatch):
    values = _reload_settings(
        monkeypatch,
        ANYMAIL_ESP="postmark",
        ANYMAIL_POSTMARK_SERVER_TOKEN="x",
        ANYMAIL_WEBHOOK_SECRET=SECRET,
    )
    assert values["ANYMAIL"]["WEBHOOK_SECRET"] == SECRET
    assert values["EMAIL_BACKEND"] == "anymail.backends.postmark.EmailBackend"
