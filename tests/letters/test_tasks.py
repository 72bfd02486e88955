"""The Celery tasks: thin wrappers around the delivery services, and the beat entry."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.core import mail
from django.utils import timezone
from kombu import pools as kombu_pools

from config.celery_app import app
from letters import tasks
from letters.delivery import letter_queue
from letters.models import Delivery
from tests.letters.delivery_helpers import make_letter, use_smtp
from tests.letters.smtp_server import SMTPServer, free_port

pytestmark = pytest.mark.django_db


def queued_delivery(**letter_fields) -> Delivery:
    letter = make_letter(recipients=1, **letter_fields)
    delivery = letter.deliveries.get()
    Delivery.objects.filter(pk=delivery.pk).update(status=Delivery.Status.QUEUED)
    return delivery


def test_the_send_task_takes_an_id_and_sends():
    delivery = queued_delivery()

    tasks.delivery_send.delay(delivery.pk)

    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.SENT
    assert len(mail.outbox) == 1


def test_the_send_task_does_nothing_for_a_deleted_delivery():
    delivery = queued_delivery()
    Delivery.objects.filter(pk=delivery.pk).delete()

    tasks.delivery_send.delay(delivery.pk)

    assert mail.outbox == []


def test_an_eager_transient_failure_leaves_the_row_for_the_requeue(settings):
    use_smtp(settings, free_port())
    delivery = queued_delivery()

    tasks.delivery_send.delay(delivery.pk)  # does not raise in the web request

    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.QUEUED
    assert delivery.next_attempt_at is not None


def test_the_requeue_task_restarts_stuck_deliveries(settings):
    server = SMTPServer().start()
    try:
        use_smtp(settings, server.port)
        delivery = queued_delivery()
        Delivery.objects.filter(pk=delivery.pk).update(
            updated_at=timezone.now() - timedelta(hours=1)
        )
        from django.test import TestCase

        with TestCase.captureOnCommitCallbacks(execute=True):
            assert tasks.deliveries_requeue.delay().get() == 1
        delivery.refresh_from_db()
        assert delivery.status == Delivery.Status.SENT
        assert len(server.recorder.received) == 1
    finally:
        server.stop()


def test_beat_runs_the_requeue_task_periodically():
    entry = settings.CELERY_BEAT_SCHEDULE["requeue-deliveries"]
    assert entry["task"] in app.tasks
    assert entry["task"] == tasks.deliveries_requeue.name
    assert 0 < entry["schedule"] < settings.DELIVERY_STUCK_AFTER


def test_task_settings_suit_the_retry_policy():
    assert app.conf.task_serializer == "json"
    assert app.conf.accept_content == ["json"]
    assert tasks.delivery_send.acks_late
    # Redis must not hand a task waiting for its retry to a second worker meanwhile.
    assert (
        settings.DELIVERY_RETRY_BACKOFF_MAX
        < (settings.CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"])
    )
    assert settings.CELERY_TASK_TIME_LIMIT < settings.DELIVERY_STUCK_AFTER


def test_queueing_survives_a_broker_that_is_down(django_capture_on_commit_callbacks):
    letter = make_letter(recipients=2)
    old_url = app.conf.broker_url
    kombu_pools.reset()
    app.conf.broker_url = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    app.conf.task_always_eager = False
    app._pool = None
    app.amqp._producer_pool = None
    try:
        with django_capture_on_commit_callbacks(execute=True):
            letter_queue(letter=letter)  # must not raise
    finally:
        kombu_pools.reset()
        app.conf.broker_url = old_url
        app.conf.task_always_eager = True
        app._pool = None
        app.amqp._producer_pool = None

    assert set(letter.deliveries.values_list("status", flat=True)) == {Delivery.Status.QUEUED}
    assert mail.outbox == []
