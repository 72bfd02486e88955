"""The Celery tasks: thin wrappers around the sender and the purge, and the beat's entries.

No task retries through Celery: a failed send is recorded on its OutgoingMail row, and the
beat's sweep sends it when it is due.
"""

import logging
import re
from datetime import timedelta

import pytest
import time_machine
from django.conf import settings
from django.core import mail
from django.utils import timezone
from kombu import pools as kombu_pools

from config.celery_app import app
from letters import tasks
from letters.models import Delivery, OutgoingMail
from letters.services import letter_queue
from tests.letters.delivery_helpers import make_letter, use_smtp
from tests.letters.smtp_server import SMTPServer, free_port

pytestmark = pytest.mark.django_db


def queued_mail(**letter_fields) -> OutgoingMail:
    """A letter's email, saved and queued; its task waits for a commit that never comes."""
    letter = make_letter(recipients=1, **letter_fields)
    letter_queue(letter=letter)
    return letter.deliveries.get().mail


def test_the_send_task_takes_an_id_and_sends():
    queued = queued_mail()

    assert tasks.mails_send.delay([queued.pk]).get() == 1

    queued.refresh_from_db()
    assert queued.status == OutgoingMail.Status.SENT
    assert queued.deliveries.get().status == Delivery.Status.SENT
    assert len(mail.outbox) == 1


def test_the_send_task_does_nothing_for_a_missing_mail():
    queued = queued_mail()
    OutgoingMail.objects.filter(pk=queued.pk).delete()

    assert tasks.mails_send.delay([queued.pk]).get() == 0

    assert mail.outbox == []


def test_the_send_task_does_nothing_for_a_mail_already_sent():
    queued = queued_mail()
    tasks.mails_send.delay([queued.pk])

    assert tasks.mails_send.delay([queued.pk]).get() == 0  # Celery delivered it twice

    queued.refresh_from_db()
    assert queued.attempts == 1
    assert len(mail.outbox) == 1


def test_an_eager_transient_failure_leaves_the_row_for_the_sweep(settings):
    use_smtp(settings, free_port())  # nothing listens there
    queued = queued_mail()

    tasks.mails_send.delay([queued.pk])  # does not raise in the web request

    queued.refresh_from_db()
    assert queued.status == OutgoingMail.Status.QUEUED
    assert queued.attempts == 1
    assert queued.send_after > timezone.now()
    assert "ConnectionRefusedError" in queued.last_error
    assert queued.deliveries.get().status == Delivery.Status.QUEUED


def test_the_sweep_task_sends_due_and_stuck_mail(settings):
    server = SMTPServer().start()
    try:
        use_smtp(settings, server.port)
        due = queued_mail()
        stuck = queued_mail(email="stuck@example.net")
        OutgoingMail.objects.filter(pk=stuck.pk).update(
            status=OutgoingMail.Status.SENDING,
            attempts=1,
            updated_at=timezone.now() - timedelta(seconds=settings.DELIVERY_STUCK_AFTER + 1),
        )

        assert tasks.mails_send_due.delay().get() == 2

        assert set(OutgoingMail.objects.values_list("status", flat=True)) == {"sent"}
        assert {r.message_id for r in server.recorder.received} == set(
            OutgoingMail.objects.filter(pk__in=[due.pk, stuck.pk]).values_list(
                "message_id", flat=True
            )
        )
    finally:
        server.stop()


def test_the_sweep_task_leaves_mail_that_is_not_due():
    queued = queued_mail()
    OutgoingMail.objects.filter(pk=queued.pk).update(
        send_after=timezone.now() + timedelta(minutes=5)
    )

    assert tasks.mails_send_due.delay().get() == 0

    assert mail.outbox == []


def test_beat_runs_the_sweep_often_and_the_purge_daily():
    sweep = settings.CELERY_BEAT_SCHEDULE["send-due-mail"]
    assert sweep["task"] in app.tasks
    assert sweep["task"] == tasks.mails_send_due.name
    # A row left sending is sent again within a sweep of becoming stuck.
    assert 0 < sweep["schedule"] < settings.DELIVERY_STUCK_AFTER
    purge = settings.CELERY_BEAT_SCHEDULE["purge-personal-data"]
    assert purge["task"] in app.tasks
    assert purge["task"] == tasks.personal_data_purge.name
    bundles = settings.CELERY_BEAT_SCHEDULE["build-daily-bundles"]
    assert bundles["task"] == tasks.bundles_build.name
    before_deadline = settings.CELERY_BEAT_SCHEDULE["build-clerk-bundles-before-deadline"]
    assert before_deadline["task"] == tasks.clerk_bundles_before_deadline.name
    # Often enough to file the last letters within the hour before a deadline.
    assert before_deadline["schedule"] <= 900
    # The old Redis-list dispatcher and its requeue are gone.
    assert set(settings.CELERY_BEAT_SCHEDULE) == {
        "send-due-mail",
        "purge-personal-data",
        "build-daily-bundles",
        "build-clerk-bundles-before-deadline",
        "release-held-letters",
        "send-followups",
    }
    # Every entry names a task the workers know (they import CELERY_IMPORTS as they start).
    app.loader.import_default_modules()
    assert all(entry["task"] in app.tasks for entry in settings.CELERY_BEAT_SCHEDULE.values())


def test_task_settings_suit_the_sender():
    assert app.conf.task_serializer == "json"
    assert app.conf.accept_content == ["json"]
    assert tasks.mails_send.acks_late
    assert tasks.mails_send_due.acks_late
    assert tasks.personal_data_purge.acks_late
    # Redis must not hand a task still running to a second worker.
    assert (
        settings.CELERY_TASK_TIME_LIMIT
        < settings.CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"]
    )
    # No row still being sent is taken by the sweep as stuck.
    assert settings.CELERY_TASK_SOFT_TIME_LIMIT < settings.CELERY_TASK_TIME_LIMIT
    assert settings.CELERY_TASK_TIME_LIMIT < settings.DELIVERY_STUCK_AFTER


def test_queueing_survives_a_broker_that_is_down_and_the_sweep_sends_later(
    django_capture_on_commit_callbacks, caplog
):
    letter = make_letter(recipients=2, send_copy=True)
    old_url = app.conf.broker_url
    kombu_pools.reset()
    app.conf.broker_url = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    app.conf.task_always_eager = False
    app._pool = None
    app.amqp._producer_pool = None
    try:
        with (
            caplog.at_level(logging.WARNING, logger="letters.services"),
            django_capture_on_commit_callbacks(execute=True),
        ):
            letter_queue(letter=letter)  # must not raise
    finally:
        kombu_pools.reset()
        app.conf.broker_url = old_url
        app.conf.task_always_eager = True
        app._pool = None
        app.amqp._producer_pool = None

    assert set(letter.deliveries.values_list("status", flat=True)) == {Delivery.Status.QUEUED}
    assert list(letter.mails.values_list("status", "attempts")) == [("queued", 0)] * 3
    assert mail.outbox == []
    waiting = [
        int(pk)
        for record in caplog.records
        if "wait for the sweep" in record.getMessage()
        for pk in re.findall(r"\d+", record.getMessage())
    ]
    assert sorted(waiting) == sorted(letter.mails.values_list("pk", flat=True))

    with time_machine.travel(timezone.now() + timedelta(minutes=1)):
        assert tasks.mails_send_due.delay().get() == 3

    assert set(letter.deliveries.values_list("status", flat=True)) == {Delivery.Status.SENT}
    assert len(mail.outbox) == 3
