"""The delivery services: message, idempotence, retries, failures, requeue and resend."""

from datetime import timedelta

import pytest
from django.core import mail
from django.urls import resolve
from django.utils import timezone, translation

from campaigns.models import Campaign
from letters import delivery as services
from letters.delivery import DeliveryDeferred, letter_queue, send_failure
from letters.models import Delivery, OutboxMessage
from tests.factories import CampaignFactory
from tests.letters.delivery_helpers import make_letter, use_smtp
from tests.letters.smtp_server import SMTPServer, free_port

pytestmark = pytest.mark.django_db


@pytest.fixture
def smtp(settings):
    server = SMTPServer().start()
    use_smtp(settings, server.port)
    yield server.recorder
    server.stop()


def queue(letter, capture):
    with capture(execute=True):
        letter_queue(letter=letter)


def test_it_sends_each_recipient_their_own_message_with_the_specified_headers(
    django_capture_on_commit_callbacks,
):
    letter = make_letter(recipients=2)
    queue(letter, django_capture_on_commit_callbacks)

    deliveries = list(letter.deliveries.order_by("pk"))
    assert [d.status for d in deliveries] == [Delivery.Status.SENT] * 2
    assert len(mail.outbox) == 2
    for delivery, message in zip(deliveries, mail.outbox, strict=True):
        assert message.to == [f'"{delivery.recipient_name}" <{delivery.recipient_email}>']
        assert message.from_email == '"Jane Resident via Test Org" <letters@example.org>'
        assert message.reply_to == ['"Jane Resident" <jane.resident@example.net>']
        assert message.extra_headers["Message-ID"] == delivery.message_id
        assert delivery.message_id.endswith("@example.org>")
        assert message.extra_headers["Content-Language"] == "en"
        assert message.subject == letter.subject
        assert "Please act." in message.body
        html, mimetype = message.alternatives[0]
        assert mimetype == "text/html"
        assert "<p>Please act.</p>" in html
        # No tracking pixel, no rewritten links.
        assert "<img" not in html
        assert "https://example.org/source" in html
        assert delivery.attempts == 1
        assert delivery.sent_at is not None
    assert deliveries[0].message_id != deliveries[1].message_id


def test_it_sends_one_message_to_the_whole_council_in_together_mode(
    django_capture_on_commit_callbacks,
):
    campaign = CampaignFactory(send_mode=Campaign.SendMode.TOGETHER)
    letter = make_letter(campaign=campaign, recipients=3)
    queue(letter, django_capture_on_commit_callbacks)

    assert len(mail.outbox) == 1
    deliveries = list(letter.deliveries.order_by("pk"))
    assert mail.outbox[0].to == [f'"{d.recipient_name}" <{d.recipient_email}>' for d in deliveries]
    assert {d.status for d in deliveries} == {Delivery.Status.SENT}
    assert len({d.message_id for d in deliveries}) == 1


def test_it_sends_a_delivery_once_when_its_task_runs_twice(django_capture_on_commit_callbacks):
    letter = make_letter(recipients=1)
    queue(letter, django_capture_on_commit_callbacks)
    delivery = letter.deliveries.get()

    assert services.delivery_send(delivery_id=delivery.pk) == []
    assert len(mail.outbox) == 1
    delivery.refresh_from_db()
    assert delivery.attempts == 1


def test_it_leaves_a_delivery_that_another_worker_is_sending(
    django_capture_on_commit_callbacks,
):
    letter = make_letter(recipients=1)
    delivery = letter.deliveries.get()
    Delivery.objects.filter(pk=delivery.pk).update(status=Delivery.Status.SENDING)

    assert services.delivery_send(delivery_id=delivery.pk) == []
    assert mail.outbox == []


def test_it_skips_addresses_flagged_after_hard_bounces(django_capture_on_commit_callbacks):
    letter = make_letter(recipients=2)
    flagged = letter.deliveries.order_by("pk").first()
    flagged.representative.bounce_count = flagged.representative.BOUNCE_LIMIT
    flagged.representative.save()
    queue(letter, django_capture_on_commit_callbacks)

    flagged.refresh_from_db()
    assert flagged.status == Delivery.Status.NO_EMAIL
    assert len(mail.outbox) == 1
    assert flagged.recipient_email not in mail.outbox[0].to[0]


def test_it_sends_a_test_letter_to_its_author_never_to_the_council(
    django_capture_on_commit_callbacks,
):
    letter = make_letter(recipients=1, is_test=True, email="organizer@example.org")
    queue(letter, django_capture_on_commit_callbacks)

    assert mail.outbox[0].to == ["organizer@example.org"]
    assert mail.outbox[0].subject.startswith("[TEST] ")


def test_it_sends_the_resident_a_copy_with_status_and_delete_links(
    django_capture_on_commit_callbacks, settings
):
    settings.SITE_URL = "https://letters.example.org"
    letter = make_letter(recipients=2, send_copy=True, language="fr")
    queue(letter, django_capture_on_commit_callbacks)

    copies = [m for m in mail.outbox if m.to == ['"Jane Resident" <jane.resident@example.net>']]
    assert len(copies) == 1
    copy = copies[0]
    status_url = f"https://letters.example.org/fr/letters/{letter.token}/"
    assert status_url in copy.body
    assert f"{status_url}delete/" in copy.body
    assert f'href="{status_url}delete/"' in copy.alternatives[0][0]
    assert copy.extra_headers["Content-Language"] == "fr"
    with translation.override("fr"):
        assert resolve(f"/fr/letters/{letter.token}/").view_name == "letters:status"
        assert resolve(f"/fr/letters/{letter.token}/delete/").view_name == "letters:delete"
    assert "Please act." in copy.body
    letter.refresh_from_db()
    assert letter.copy_sent_at is not None
    # Once only.
    assert services.letter_copy_send(letter_id=letter.pk) is False


def test_it_defers_on_smtp_4xx_then_sends_with_the_same_message_id(
    django_capture_on_commit_callbacks, smtp, settings
):
    settings.DELIVERY_RETRY_BACKOFF = 30
    letter = make_letter(recipients=1)
    delivery = letter.deliveries.get()
    smtp.defer[delivery.recipient_email] = 1
    queue(letter, django_capture_on_commit_callbacks)  # eager: the retry waits for the requeue

    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.QUEUED
    assert "451" in delivery.last_error
    assert delivery.next_attempt_at > timezone.now() + timedelta(seconds=20)
    first_message_id = delivery.message_id

    assert services.delivery_send(delivery_id=delivery.pk) == [delivery.pk]
    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.SENT
    assert delivery.attempts == 2
    assert "451" in delivery.last_error  # kept: the last error, not the current status
    assert [r.message_id for r in smtp.received] == [first_message_id]


def test_it_fails_on_smtp_5xx_with_the_reason_and_sends_the_others(
    django_capture_on_commit_callbacks, smtp
):
    letter = make_letter(recipients=3)
    bad = letter.deliveries.order_by("pk")[1]
    smtp.reject[bad.recipient_email] = "550 5.1.1 No such user here"
    queue(letter, django_capture_on_commit_callbacks)

    statuses = dict(letter.deliveries.values_list("pk", "status"))
    assert statuses.pop(bad.pk) == Delivery.Status.FAILED
    assert set(statuses.values()) == {Delivery.Status.SENT}
    bad.refresh_from_db()
    assert "550" in bad.last_error
    assert "No such user here" in bad.last_error
    assert len(smtp.received) == 2


def test_it_retries_when_the_mail_server_is_unreachable(settings):
    use_smtp(settings, free_port())  # nothing listens there
    letter = make_letter(recipients=1)
    delivery = letter.deliveries.get()
    Delivery.objects.filter(pk=delivery.pk).update(status=Delivery.Status.QUEUED)

    with pytest.raises(DeliveryDeferred):
        services.delivery_send(delivery_id=delivery.pk)
    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.QUEUED
    assert "ConnectionRefusedError" in delivery.last_error


def test_it_gives_up_after_the_last_attempt(settings):
    use_smtp(settings, free_port())
    settings.DELIVERY_MAX_ATTEMPTS = 2
    letter = make_letter(recipients=1)
    delivery = letter.deliveries.get()
    Delivery.objects.filter(pk=delivery.pk).update(status=Delivery.Status.QUEUED)

    with pytest.raises(DeliveryDeferred):
        services.delivery_send(delivery_id=delivery.pk)
    services.delivery_send(delivery_id=delivery.pk)
    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.FAILED
    assert delivery.attempts == 2
    assert delivery.last_error.startswith("Gave up after 2 attempts")


def test_backoff_grows_fourfold_up_to_the_cap(settings):
    settings.DELIVERY_RETRY_BACKOFF = 60
    settings.DELIVERY_RETRY_BACKOFF_MAX = 3600
    assert [services.retry_countdown(attempts=n) for n in range(1, 6)] == [
        60,
        240,
        960,
        3600,
        3600,
    ]


@pytest.mark.parametrize(
    ("status_code", "transient"), [(429, True), (500, True), (503, True), (400, False)]
)
def test_it_retries_esp_server_errors_and_rate_limits_only(status_code, transient):
    import requests
    from anymail.exceptions import AnymailAPIError

    response = requests.Response()
    response.status_code, response.reason, response._content = status_code, "Nope", b"{}"
    error = AnymailAPIError("nope", status_code=status_code, response=response)
    failure = send_failure(error)
    assert failure.transient is transient
    assert str(status_code) in failure.reason


def test_it_fails_recipients_the_esp_refuses():
    from anymail.exceptions import AnymailRecipientsRefused

    assert send_failure(AnymailRecipientsRefused("refused")).transient is False


def test_it_records_the_esp_message_id(django_capture_on_commit_callbacks, settings):
    settings.EMAIL_BACKEND = "anymail.backends.test.EmailBackend"
    letter = make_letter(recipients=1)
    queue(letter, django_capture_on_commit_callbacks)

    delivery = letter.deliveries.get()
    assert delivery.status == Delivery.Status.SENT
    assert delivery.esp_message_id != ""
    assert delivery.esp_message_id == str(
        mail.outbox[0].anymail_status.recipients[delivery.recipient_email].message_id
    )


def test_requeue_sends_a_delivery_stuck_in_sending_again_with_its_message_id(smtp):
    letter = make_letter(recipients=2)
    stuck, recent = list(letter.deliveries.order_by("pk"))
    long_ago = timezone.now() - timedelta(hours=1)
    Delivery.objects.filter(pk=stuck.pk).update(
        status=Delivery.Status.SENDING, message_id="<letter.1.abc@example.org>", attempts=1
    )
    Delivery.objects.filter(pk=stuck.pk).update(updated_at=long_ago)
    Delivery.objects.filter(pk=recent.pk).update(status=Delivery.Status.SENDING)

    from django.test.testcases import TestCase

    with TestCase.captureOnCommitCallbacks(execute=True):
        assert services.deliveries_requeue() == 1

    stuck.refresh_from_db()
    recent.refresh_from_db()
    assert stuck.status == Delivery.Status.SENT
    assert recent.status == Delivery.Status.SENDING
    assert [r.message_id for r in smtp.received] == ["<letter.1.abc@example.org>"]


def test_requeue_leaves_a_retry_that_is_not_due_yet(django_capture_on_commit_callbacks):
    letter = make_letter(recipients=1)
    delivery = letter.deliveries.get()
    Delivery.objects.filter(pk=delivery.pk).update(
        status=Delivery.Status.QUEUED, next_attempt_at=timezone.now() + timedelta(minutes=30)
    )
    Delivery.objects.filter(pk=delivery.pk).update(updated_at=timezone.now() - timedelta(hours=2))

    with django_capture_on_commit_callbacks(execute=True):
        assert services.deliveries_requeue() == 0
    assert mail.outbox == []


def test_resend_retries_failed_deliveries_and_never_sent_ones(django_capture_on_commit_callbacks):
    letter = make_letter(recipients=2)
    failed, sent = list(letter.deliveries.order_by("pk"))
    Delivery.objects.filter(pk=failed.pk).update(
        status=Delivery.Status.FAILED, attempts=6, last_error="550"
    )
    Delivery.objects.filter(pk=sent.pk).update(status=Delivery.Status.SENT)

    with django_capture_on_commit_callbacks(execute=True):
        assert services.deliveries_resend(deliveries=[failed, sent]) == 1

    failed.refresh_from_db()
    assert failed.status == Delivery.Status.SENT
    assert failed.attempts == 1
    assert len(mail.outbox) == 1
    assert failed.recipient_email in mail.outbox[0].to[0]


def test_the_outbox_backend_keeps_messages_for_the_admin(
    django_capture_on_commit_callbacks, settings
):
    settings.EMAIL_BACKEND = "letters.mail_backends.OutboxBackend"
    letter = make_letter(recipients=1)
    queue(letter, django_capture_on_commit_callbacks)

    kept = OutboxMessage.objects.get()
    delivery = letter.deliveries.get()
    assert kept.message_id == delivery.message_id
    assert kept.subject == letter.subject
    assert delivery.recipient_email in kept.to
    assert "<p>Please act.</p>" in kept.html
    assert delivery.status == Delivery.Status.SENT
