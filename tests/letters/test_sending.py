# ruff: noqa: F811  (pytest fixtures imported from journey_helpers)
"""The sender (letters.sending): every email is an OutgoingMail row, claimed, sent and
recorded in one place, with one retry policy, a sweep for due and stuck rows, and the
headers, idempotence, failures, requeue and resend the letters always had."""

import re
from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
import requests
import time_machine
from anymail.backends.test import EmailBackend as AnymailTestBackend
from anymail.exceptions import AnymailAPIError, AnymailRecipientsRefused
from anymail.message import AnymailRecipientStatus
from django.core import mail
from django.core.management import call_command
from django.db import OperationalError
from django.urls import resolve
from django.utils import timezone, translation

from campaigns.models import Campaign
from letters import sending, services
from letters.models import Delivery, Letter, OutboxMessage, OutgoingMail
from letters.sending import mails_send, mails_send_due, retry_delay, send_failure
from letters.services import deliveries_resend, letter_queue
from tests.factories import CampaignFactory
from tests.letters.delivery_helpers import fail_deliveries, make_letter, use_smtp
from tests.letters.journey_helpers import campaign, council, journey_settings  # noqa: F401
from tests.letters.smtp_server import SMTPServer, free_port

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
RESIDENT = "jane.resident@example.net"


@pytest.fixture
def smtp(settings):
    server = SMTPServer().start()
    use_smtp(settings, server.port)
    yield server.recorder
    server.stop()


def queue(letter, capture):
    with capture(execute=True):
        letter_queue(letter=letter)


def stuck(mail_row: OutgoingMail, *, since: timedelta, **fields) -> None:
    """Leave a row as a worker that died mid-send leaves it: "sending" since a while."""
    OutgoingMail.objects.filter(pk=mail_row.pk).update(
        status=OutgoingMail.Status.SENDING, updated_at=timezone.now() - since, **fields
    )
    mail_row.deliveries.update(status=Delivery.Status.SENDING)


def pending(letter: Letter) -> Letter:
    """Turn a confirmed test letter back into one waiting for its writer's confirmation."""
    Letter.objects.filter(pk=letter.pk).update(
        status=Letter.Status.PENDING_CONFIRMATION,
        confirmed_at=None,
        confirmation_sent_at=timezone.now(),
    )
    letter.refresh_from_db()
    return letter


# --- Letters: the message, its headers, once only ------------------------------------------------


def test_it_sends_each_recipient_their_own_message_with_the_specified_headers(
    django_capture_on_commit_callbacks,
):
    letter = make_letter(recipients=2)
    queue(letter, django_capture_on_commit_callbacks)

    deliveries = list(letter.deliveries.select_related("mail").order_by("pk"))
    assert [d.status for d in deliveries] == [Delivery.Status.SENT] * 2
    assert len(mail.outbox) == 2
    for delivery, message in zip(deliveries, mail.outbox, strict=True):
        assert message.to == [f'"{delivery.recipient_name}" <{delivery.recipient_email}>']
        assert message.from_email == '"Jane Resident via Test Org" <letters@example.org>'
        assert message.reply_to == ['"Jane Resident" <jane.resident@example.net>']
        assert message.extra_headers["Message-ID"] == delivery.mail.message_id
        assert delivery.mail.message_id.endswith("@example.org>")
        assert message.extra_headers["Content-Language"] == "en"
        assert message.subject == letter.subject
        assert "Please act." in message.body
        html, mimetype = message.alternatives[0]
        assert mimetype == "text/html"
        assert "<p>Please act.</p>" in html
        # No tracking pixel, no rewritten links.
        assert "<img" not in html
        assert "https://example.org/source" in html
        assert delivery.mail.kind == OutgoingMail.Kind.LETTER
        assert delivery.mail.status == OutgoingMail.Status.SENT
        assert delivery.mail.attempts == 1
        assert delivery.mail.sent_at is not None
        assert delivery.sent_at is not None
    assert deliveries[0].mail_id != deliveries[1].mail_id
    assert deliveries[0].mail.message_id != deliveries[1].mail.message_id


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
    assert len({d.mail_id for d in deliveries}) == 1
    (row,) = letter.mails.all()
    assert mail.outbox[0].extra_headers["Message-ID"] == row.message_id
    assert (row.status, row.attempts) == (OutgoingMail.Status.SENT, 1)


def test_it_sends_a_mail_once_when_its_task_runs_twice(django_capture_on_commit_callbacks):
    letter = make_letter(recipients=1)
    queue(letter, django_capture_on_commit_callbacks)
    delivery = letter.deliveries.get()

    assert mails_send(mail_ids=[delivery.mail_id]) == 0
    assert len(mail.outbox) == 1
    delivery.mail.refresh_from_db()
    assert delivery.mail.attempts == 1


def test_it_leaves_a_mail_that_another_worker_is_sending():
    letter = make_letter(recipients=1)
    letter_queue(letter=letter)  # its task waits for a commit that never comes here
    row = letter.deliveries.get().mail
    stuck(row, since=timedelta(seconds=5), attempts=1)

    assert mails_send(mail_ids=[row.pk]) == 0
    assert mails_send_due() == 0

    assert mail.outbox == []
    row.refresh_from_db()
    assert (row.status, row.attempts) == (OutgoingMail.Status.SENDING, 1)


def test_it_skips_addresses_flagged_after_hard_bounces(django_capture_on_commit_callbacks):
    letter = make_letter(recipients=2)
    flagged = letter.deliveries.order_by("pk").first()
    flagged.representative.bounce_count = flagged.representative.BOUNCE_LIMIT
    flagged.representative.save()
    queue(letter, django_capture_on_commit_callbacks)

    flagged.refresh_from_db()
    assert flagged.status == Delivery.Status.NO_EMAIL
    assert flagged.mail is None
    assert len(mail.outbox) == 1
    assert flagged.recipient_email not in mail.outbox[0].to[0]


def test_it_sends_a_test_letter_to_its_author_never_to_the_council(
    django_capture_on_commit_callbacks,
):
    letter = make_letter(recipients=1, is_test=True, email="organizer@example.org")
    Letter.objects.filter(pk=letter.pk).update(subject="[TEST] " + letter.subject)
    queue(letter, django_capture_on_commit_callbacks)

    assert mail.outbox[0].to == ["organizer@example.org"]
    assert mail.outbox[0].subject.startswith("[TEST] ")
    assert letter.mails.get().kind == OutgoingMail.Kind.TEST


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
    row = letter.mails.get(kind=OutgoingMail.Kind.COPY)
    assert row.status == OutgoingMail.Status.SENT
    assert row.sent_at is not None
    assert copy.extra_headers["Message-ID"] == row.message_id
    # Once only.
    assert mails_send(mail_ids=[row.pk]) == 0
    assert mails_send_due() == 0
    assert len(mail.outbox) == 3


def test_it_sends_no_copy_of_a_test_letter_or_when_none_was_asked_for(
    django_capture_on_commit_callbacks,
):
    queue(make_letter(recipients=1, send_copy=False), django_capture_on_commit_callbacks)
    queue(
        make_letter(recipients=1, send_copy=True, is_test=True), django_capture_on_commit_callbacks
    )

    assert not OutgoingMail.objects.filter(kind=OutgoingMail.Kind.COPY).exists()
    assert len(mail.outbox) == 2


# --- Every kind goes through the table ---------------------------------------------------------


def _letter_mail(capture):
    letter = make_letter(recipients=1)
    queue(letter, capture)
    return letter, [letter.deliveries.get().recipient_email]


def _test_mail(capture):
    letter = make_letter(recipients=1, is_test=True, email="organizer@example.org")
    queue(letter, capture)
    return letter, ["organizer@example.org"]


def _copy_mail(capture):
    letter = make_letter(recipients=0, send_copy=True)
    queue(letter, capture)
    return letter, [RESIDENT]


def _confirmation_mail(capture):
    letter = pending(make_letter(recipients=1))
    with capture(execute=True):
        services.sender_links_resend(
            campaign=letter.campaign, municipality=letter.municipality, email=RESIDENT
        )
    return letter, [RESIDENT]


def _reminder_mail(capture):
    letter = make_letter(recipients=1)
    with capture(execute=True):
        services.sender_links_resend(
            campaign=letter.campaign, municipality=letter.municipality, email=RESIDENT
        )
    return letter, [RESIDENT]


def _erased_mail(capture):
    letter = make_letter(recipients=1)
    with capture(execute=True):
        services.letter_delete_request(letter=letter)
    return letter, [RESIDENT]


@pytest.mark.parametrize(
    ("kind", "make"),
    [
        (OutgoingMail.Kind.LETTER, _letter_mail),
        (OutgoingMail.Kind.TEST, _test_mail),
        (OutgoingMail.Kind.COPY, _copy_mail),
        (OutgoingMail.Kind.CONFIRMATION, _confirmation_mail),
        (OutgoingMail.Kind.REMINDER, _reminder_mail),
        (OutgoingMail.Kind.ERASED, _erased_mail),
    ],
)
def test_every_kind_of_email_is_a_row_sent_under_its_stable_message_id(
    kind, make, smtp, django_capture_on_commit_callbacks
):
    letter, recipients = make(django_capture_on_commit_callbacks)

    row = OutgoingMail.objects.get(letter=letter)
    assert row.kind == kind
    assert row.status == OutgoingMail.Status.SENT
    assert row.attempts == 1
    assert row.sent_at is not None
    assert row.last_error == ""
    domain = letter.campaign.sender_email.rpartition("@")[2]
    assert re.fullmatch(rf"<{kind}\.[0-9a-f]{{24}}@{re.escape(domain)}>", row.message_id)
    (received,) = smtp.received
    assert received.message_id == row.message_id
    assert received.rcpt_tos == recipients
    assert received.message.get_body(("html",)) is not None  # text plus an HTML alternative


def test_a_lost_confirmation_goes_out_on_the_next_sweep_and_only_once(
    campaign, council, journey_settings
):
    letter = services.letter_submit(
        campaign=campaign,
        municipality=council["municipality"],
        representative_ids=[council["mayor"].pk],
        first_name="Jane",
        last_name="Doe",
        email="jane@example.org",
        postal_code="K1A 0B1",
        language="en",
    )  # its task waits for a commit that never comes: lost
    assert mail.outbox == []

    assert mails_send_due() == 1  # the beat's sweep

    assert [m.to for m in mail.outbox] == [["jane@example.org"]]
    assert letter.confirmation_token in mail.outbox[0].body
    row = letter.mails.get()
    assert (row.kind, row.status) == (OutgoingMail.Kind.CONFIRMATION, OutgoingMail.Status.SENT)
    assert mails_send_due() == 0
    assert mails_send(mail_ids=[row.pk]) == 0  # a late duplicate of the task
    assert len(mail.outbox) == 1


def test_a_new_link_goes_out_although_the_first_one_did(
    campaign, council, journey_settings, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        letter = services.letter_submit(
            campaign=campaign,
            municipality=council["municipality"],
            representative_ids=[council["mayor"].pk],
            first_name="Jane",
            last_name="Doe",
            email="jane@example.org",
            postal_code="K1A 0B1",
            language="en",
        )
    first = mail.outbox[-1].body
    with django_capture_on_commit_callbacks(execute=True):
        services.letter_confirmation_resend(letter=letter)

    assert len(mail.outbox) == 2
    letter.refresh_from_db()
    assert letter.confirmation_token in mail.outbox[-1].body
    assert letter.confirmation_token not in first
    rows = list(letter.mails.order_by("pk"))
    assert [(r.kind, r.status) for r in rows] == [("confirmation", "sent")] * 2
    assert rows[0].message_id != rows[1].message_id


# --- No longer wanted: cancelled, nothing sent ---------------------------------------------------


def test_a_mail_whose_letter_was_erased_while_it_was_being_sent_is_cancelled(smtp):
    letter = make_letter(recipients=1)
    letter_queue(letter=letter)
    row = letter.deliveries.get().mail
    # A worker claimed it and died; meanwhile the resident deleted their data (which leaves
    # an email being sent alone).
    stuck(row, since=timedelta(hours=1), attempts=1)
    services.letter_delete_request(letter=letter)
    row.refresh_from_db()
    assert row.status == OutgoingMail.Status.SENDING

    assert mails_send_due() == 1  # the erasure notice, and nothing else

    row.refresh_from_db()
    assert row.status == OutgoingMail.Status.CANCELLED
    assert letter.deliveries.get().status == Delivery.Status.CANCELLED
    assert [r.rcpt_tos for r in smtp.received] == [[RESIDENT]]
    assert letter.mails.get(kind=OutgoingMail.Kind.ERASED).status == OutgoingMail.Status.SENT


def test_a_confirmation_for_a_letter_already_confirmed_is_cancelled(smtp):
    letter = pending(make_letter(recipients=1))
    services.sender_links_resend(
        campaign=letter.campaign, municipality=letter.municipality, email=RESIDENT
    )
    confirmation = letter.mails.get()
    # Its writer confirmed with the link they already had, before this one went out.
    services.letter_confirm(token=letter.confirmation_token)

    assert mails_send_due() == 1  # the letter

    confirmation.refresh_from_db()
    assert confirmation.status == OutgoingMail.Status.CANCELLED
    assert [r.rcpt_tos for r in smtp.received] == [[letter.deliveries.get().recipient_email]]


def test_a_confirmation_whose_link_expired_before_its_turn_is_cancelled(settings):
    letter = pending(make_letter(recipients=1))
    services.sender_links_resend(
        campaign=letter.campaign, municipality=letter.municipality, email=RESIDENT
    )
    later = timezone.now() + timedelta(days=settings.LETTERS_CONFIRMATION_DAYS, seconds=1)

    with time_machine.travel(later):
        assert mails_send_due() == 0

    assert letter.mails.get().status == OutgoingMail.Status.CANCELLED
    assert mail.outbox == []


# --- Due later: send_after --------------------------------------------------------------------


def test_a_mail_due_later_waits_for_the_sweep_once_it_is_due():
    letter = make_letter(recipients=1)
    with time_machine.travel(T0, tick=False) as traveller:
        letter_queue(letter=letter)
        row = letter.deliveries.get().mail
        OutgoingMail.objects.filter(pk=row.pk).update(send_after=T0 + timedelta(minutes=10))

        assert mails_send(mail_ids=[row.pk]) == 0
        assert mails_send_due() == 0
        row.refresh_from_db()
        assert (row.status, row.attempts) == (OutgoingMail.Status.QUEUED, 0)
        assert mail.outbox == []

        traveller.move_to(T0 + timedelta(minutes=10))
        assert mails_send_due() == 1

    row.refresh_from_db()
    assert (row.status, row.attempts) == (OutgoingMail.Status.SENT, 1)
    assert len(mail.outbox) == 1


def test_queueing_a_mail_due_later_starts_no_task(django_capture_on_commit_callbacks):
    letter = make_letter(recipients=0)
    with django_capture_on_commit_callbacks(execute=True):
        (row,) = services.mails_queue(
            [
                OutgoingMail(
                    kind=OutgoingMail.Kind.REMINDER,
                    letter=letter,
                    send_after=timezone.now() + timedelta(hours=1),
                )
            ]
        )

    assert mail.outbox == []
    row.refresh_from_db()
    assert row.status == OutgoingMail.Status.QUEUED


def test_the_sweep_leaves_a_retry_that_is_not_due_yet():
    letter = make_letter(recipients=1)
    letter_queue(letter=letter)
    row = letter.deliveries.get().mail
    OutgoingMail.objects.filter(pk=row.pk).update(
        attempts=1, send_after=timezone.now() + timedelta(minutes=30)
    )
    OutgoingMail.objects.filter(pk=row.pk).update(updated_at=timezone.now() - timedelta(hours=2))

    assert mails_send_due() == 0
    assert mail.outbox == []


# --- Stuck in "sending": the sweep sends again ---------------------------------------------------


def test_the_sweep_sends_a_mail_stuck_in_sending_again_with_its_message_id(smtp, settings):
    letter = make_letter(recipients=2)
    letter_queue(letter=letter)
    old, young = [d.mail for d in letter.deliveries.order_by("pk")]
    with time_machine.travel(T0, tick=False):
        limit = timedelta(seconds=settings.DELIVERY_STUCK_AFTER)
        stuck(old, since=limit + timedelta(seconds=1), attempts=1, message_id="<letter.1.abc@x>")
        stuck(young, since=limit - timedelta(seconds=10), attempts=1)

        assert mails_send_due() == 1

    old.refresh_from_db()
    young.refresh_from_db()
    assert (old.status, old.attempts) == (OutgoingMail.Status.SENT, 2)
    assert old.message_id == "<letter.1.abc@x>"
    assert old.deliveries.get().status == Delivery.Status.SENT
    assert (young.status, young.attempts) == (OutgoingMail.Status.SENDING, 1)
    assert young.deliveries.get().status == Delivery.Status.SENDING
    assert [r.message_id for r in smtp.received] == ["<letter.1.abc@x>"]


def test_requeue_deliveries_runs_the_sweep_and_says_what_it_sent(smtp):
    letter = make_letter(recipients=2)
    letter_queue(letter=letter)
    first, _second = [d.mail for d in letter.deliveries.order_by("pk")]
    stuck(first, since=timedelta(seconds=30), attempts=1)

    out = StringIO()
    call_command("requeue_deliveries", stdout=out)
    assert out.getvalue().startswith("Sent 1 due emails")  # the one queued; the other is young

    out = StringIO()
    call_command("requeue_deliveries", "--older-than", "0", stdout=out)
    assert out.getvalue().startswith("Sent 1 due emails")
    assert "over 0 s" in out.getvalue()
    assert set(letter.mails.values_list("status", flat=True)) == {OutgoingMail.Status.SENT}
    assert len(smtp.received) == 2


# --- Failures and retries: one policy for every kind ---------------------------------------------


def test_it_defers_on_smtp_4xx_then_sends_with_the_same_message_id(
    django_capture_on_commit_callbacks, smtp, settings
):
    settings.DELIVERY_RETRY_BACKOFF = 30
    letter = make_letter(recipients=1)
    delivery = letter.deliveries.get()
    smtp.defer[delivery.recipient_email] = 1
    queue(letter, django_capture_on_commit_callbacks)  # eager: the retry waits for the sweep

    delivery.refresh_from_db()
    row = delivery.mail
    assert delivery.status == Delivery.Status.QUEUED
    assert "451" in delivery.last_error
    assert row.status == OutgoingMail.Status.QUEUED
    assert "451" in row.last_error
    assert row.send_after > timezone.now() + timedelta(seconds=20)
    first_message_id = row.message_id

    assert mails_send_due() == 0
    with time_machine.travel(row.send_after):
        assert mails_send_due() == 1
    delivery.refresh_from_db()
    row.refresh_from_db()
    assert delivery.status == Delivery.Status.SENT
    assert row.status == OutgoingMail.Status.SENT
    assert row.attempts == 2
    assert "451" in delivery.last_error  # kept: the last error, not the current status
    assert [r.message_id for r in smtp.received] == [first_message_id]
    delivery.representative.refresh_from_db()
    assert delivery.representative.bounce_count == 0


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
    # A permanent refusal: failed at once, not retried.
    assert (bad.mail.status, bad.mail.attempts) == (OutgoingMail.Status.FAILED, 1)
    assert len(smtp.received) == 2


def test_a_5xx_refusal_of_a_single_recipient_letter_counts_as_a_bounce(
    django_capture_on_commit_callbacks, smtp
):
    letter = make_letter(recipients=1)
    delivery = letter.deliveries.get()
    smtp.reject[delivery.recipient_email] = "550 5.1.1 No such user here"
    queue(letter, django_capture_on_commit_callbacks)

    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.FAILED
    delivery.representative.refresh_from_db()
    assert delivery.representative.bounce_count == 1


def test_a_4xx_refusal_of_a_single_recipient_letter_counts_no_bounce(
    django_capture_on_commit_callbacks, smtp, settings
):
    settings.DELIVERY_MAX_ATTEMPTS = 1
    letter = make_letter(recipients=1)
    delivery = letter.deliveries.get()
    smtp.defer[delivery.recipient_email] = 5
    queue(letter, django_capture_on_commit_callbacks)

    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.FAILED
    assert delivery.last_error.startswith("Gave up after 1 attempts")
    delivery.representative.refresh_from_db()
    assert delivery.representative.bounce_count == 0


def test_it_retries_when_the_mail_server_is_unreachable(settings):
    use_smtp(settings, free_port())  # nothing listens there
    letter = make_letter(recipients=1)
    letter_queue(letter=letter)
    delivery = letter.deliveries.get()

    assert mails_send(mail_ids=[delivery.mail_id]) == 0

    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.QUEUED
    assert "ConnectionRefusedError" in delivery.last_error
    row = delivery.mail
    assert row.status == OutgoingMail.Status.QUEUED
    assert "ConnectionRefusedError" in row.last_error
    assert row.send_after > timezone.now()


def test_it_gives_up_after_the_last_attempt(settings):
    use_smtp(settings, free_port())
    settings.DELIVERY_MAX_ATTEMPTS = 2
    letter = make_letter(recipients=1)
    letter_queue(letter=letter)
    delivery = letter.deliveries.get()

    assert mails_send(mail_ids=[delivery.mail_id]) == 0
    with time_machine.travel(timezone.now() + timedelta(hours=2)):
        assert mails_send(mail_ids=[delivery.mail_id]) == 0
        assert mails_send(mail_ids=[delivery.mail_id]) == 0  # failed: nothing more to do

    delivery.refresh_from_db()
    row = delivery.mail
    assert row.status == OutgoingMail.Status.FAILED
    assert row.attempts == 2
    assert row.last_error.startswith("Gave up after 2 attempts")
    assert delivery.status == Delivery.Status.FAILED
    assert delivery.last_error.startswith("Gave up after 2 attempts")


def test_backoff_grows_fourfold_up_to_the_cap(settings):
    settings.DELIVERY_RETRY_BACKOFF = 60
    settings.DELIVERY_RETRY_BACKOFF_MAX = 3600
    assert [retry_delay(attempts=n).total_seconds() for n in range(1, 6)] == [
        60,
        240,
        960,
        3600,
        3600,
    ]


def _deferred_letter(smtp, capture):
    letter = make_letter(recipients=1)
    smtp.defer[letter.deliveries.get().recipient_email] = 99
    queue(letter, capture)
    return letter.mails.get()


def _deferred_copy(smtp, capture):
    smtp.defer[RESIDENT] = 99
    letter = make_letter(recipients=0, send_copy=True)
    queue(letter, capture)
    return letter.mails.get()


def _deferred_confirmation(smtp, capture):
    smtp.defer[RESIDENT] = 99
    letter = pending(make_letter(recipients=1))
    with capture(execute=True):
        services.sender_links_resend(
            campaign=letter.campaign, municipality=letter.municipality, email=RESIDENT
        )
    return letter.mails.get()


@pytest.mark.parametrize(
    "deferred",
    [_deferred_letter, _deferred_copy, _deferred_confirmation],
    ids=["letter", "copy", "confirmation"],
)
def test_every_kind_is_retried_with_the_same_backoff_and_fails_after_the_last_attempt(
    deferred, smtp, settings, django_capture_on_commit_callbacks
):
    settings.DELIVERY_MAX_ATTEMPTS = 4
    settings.DELIVERY_RETRY_BACKOFF = 60
    settings.DELIVERY_RETRY_BACKOFF_MAX = 3600
    delays = []
    with time_machine.travel(T0, tick=False) as traveller:
        row = deferred(smtp, django_capture_on_commit_callbacks)  # the first attempt, eager
        message_id = row.message_id
        for attempt in range(1, 4):
            row.refresh_from_db()
            assert (row.status, row.attempts) == (OutgoingMail.Status.QUEUED, attempt)
            assert "451" in row.last_error
            assert row.message_id == message_id
            delays.append(row.send_after - timezone.now())
            assert mails_send_due() == 0  # not due yet
            traveller.move_to(row.send_after)
            assert mails_send_due() == 0  # due, tried, deferred again (or failed)

    row.refresh_from_db()
    assert (row.status, row.attempts) == (OutgoingMail.Status.FAILED, 4)
    assert row.last_error.startswith("Gave up after 4 attempts. Last error: Recipient refused")
    assert "451" in row.last_error
    assert delays == [retry_delay(attempts=n) for n in range(1, 4)]
    assert delays == [timedelta(minutes=1), timedelta(minutes=4), timedelta(minutes=16)]
    assert smtp.received == []


@pytest.mark.parametrize(
    ("status_code", "transient"), [(429, True), (500, True), (503, True), (400, False)]
)
def test_it_retries_esp_server_errors_and_rate_limits_only(status_code, transient):
    response = requests.Response()
    response.status_code, response.reason, response._content = status_code, "Nope", b"{}"
    error = AnymailAPIError("nope", status_code=status_code, response=response)
    failure = send_failure(error)
    assert failure.transient is transient
    assert str(status_code) in failure.reason


def test_it_fails_recipients_the_esp_refuses():
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


class RejectingESP(AnymailTestBackend):
    """Anymail's test backend, as an ESP that rejects one address and accepts the rest."""

    rejected = "rejected@council.example.org"

    def post_to_esp(self, payload, message):
        return {
            "recipient_status": {
                email: AnymailRecipientStatus(
                    message_id=f"esp-{n}",
                    status="rejected" if email == self.rejected else "queued",
                )
                for n, email in enumerate(payload.recipient_emails)
            }
        }


def test_a_recipient_the_esp_rejects_fails_alone(django_capture_on_commit_callbacks, settings):
    settings.EMAIL_BACKEND = "tests.letters.test_sending.RejectingESP"
    campaign = CampaignFactory(send_mode=Campaign.SendMode.TOGETHER)
    letter = make_letter(campaign=campaign, recipients=2)
    rejected, accepted = letter.deliveries.order_by("pk")
    Delivery.objects.filter(pk=rejected.pk).update(recipient_email=RejectingESP.rejected)
    queue(letter, django_capture_on_commit_callbacks)

    rejected.refresh_from_db()
    accepted.refresh_from_db()
    assert rejected.status == Delivery.Status.FAILED
    assert rejected.last_error == "Refused by the email provider (rejected)."
    assert accepted.status == Delivery.Status.SENT
    assert accepted.esp_message_id == "esp-1"
    assert letter.mails.get().status == OutgoingMail.Status.SENT


# --- Whole council: refusals on one message --------------------------------------------------


def test_a_whole_council_message_fails_only_the_refused_recipient_and_counts_the_bounce(
    django_capture_on_commit_callbacks, smtp
):
    campaign = CampaignFactory(send_mode=Campaign.SendMode.TOGETHER)
    letter = make_letter(campaign=campaign, recipients=3)
    first, refused, third = letter.deliveries.order_by("pk")
    smtp.reject[refused.recipient_email] = "550 5.1.1 No such user here"
    queue(letter, django_capture_on_commit_callbacks)

    refused.refresh_from_db()
    assert refused.status == Delivery.Status.FAILED
    assert refused.last_error == "Refused by the receiving server: 550 5.1.1 No such user here"
    assert refused.sent_at is None
    refused.representative.refresh_from_db()
    assert refused.representative.bounce_count == 1
    for delivery in (first, third):
        delivery.refresh_from_db()
        assert delivery.status == Delivery.Status.SENT
        delivery.representative.refresh_from_db()
        assert delivery.representative.bounce_count == 0
    (received,) = smtp.received
    assert received.rcpt_tos == [first.recipient_email, third.recipient_email]
    assert refused.recipient_email in received.message["To"]  # reply-all still names them
    row = letter.mails.get()
    assert (row.status, row.attempts) == (OutgoingMail.Status.SENT, 1)


def test_a_4xx_refusal_on_a_whole_council_message_is_retried_alone_and_counts_no_bounce(
    django_capture_on_commit_callbacks, smtp
):
    campaign = CampaignFactory(send_mode=Campaign.SendMode.TOGETHER)
    letter = make_letter(campaign=campaign, recipients=2)
    deferred, accepted = letter.deliveries.order_by("pk")
    smtp.defer[deferred.recipient_email] = 1
    queue(letter, django_capture_on_commit_callbacks)

    deferred.refresh_from_db()
    accepted.refresh_from_db()
    assert accepted.status == Delivery.Status.SENT
    assert deferred.status == Delivery.Status.QUEUED
    assert deferred.last_error.startswith("Refused by the receiving server: 451")
    retry = deferred.mail
    assert retry != accepted.mail and retry.status == OutgoingMail.Status.QUEUED
    assert retry.attempts == 1 and retry.send_after > timezone.now()
    deferred.representative.refresh_from_db()
    assert deferred.representative.bounce_count == 0

    with time_machine.travel(retry.send_after):
        assert mails_send_due() == 1
    deferred.refresh_from_db()
    assert deferred.status == Delivery.Status.SENT
    # The retry went to the refused recipient only.
    assert [arrived.rcpt_tos for arrived in smtp.received][-1] == [deferred.recipient_email]


def test_only_5xx_refusals_count_as_bounces_when_a_whole_council_message_is_refused(
    django_capture_on_commit_callbacks, smtp
):
    campaign = CampaignFactory(send_mode=Campaign.SendMode.TOGETHER)
    letter = make_letter(campaign=campaign, recipients=2)
    rejected, deferred = letter.deliveries.order_by("pk")
    smtp.reject[rejected.recipient_email] = "550 5.1.1 No such user here"
    smtp.defer[deferred.recipient_email] = 1
    queue(letter, django_capture_on_commit_callbacks)

    assert smtp.received == []
    assert set(letter.deliveries.values_list("status", flat=True)) == {Delivery.Status.FAILED}
    rejected.representative.refresh_from_db()
    deferred.representative.refresh_from_db()
    assert rejected.representative.bounce_count == 1
    assert deferred.representative.bounce_count == 0


# --- Resend -------------------------------------------------------------------------------------


def test_resend_retries_failed_deliveries_on_a_new_email_and_never_sent_ones(
    django_capture_on_commit_callbacks,
):
    letter = make_letter(recipients=2)
    failed, sent = list(letter.deliveries.order_by("pk"))
    (failed_mail,) = fail_deliveries([failed], attempts=6, error="550")
    Delivery.objects.filter(pk=sent.pk).update(status=Delivery.Status.SENT)

    with django_capture_on_commit_callbacks(execute=True):
        assert deliveries_resend(deliveries=[failed, sent]) == 1

    failed.refresh_from_db()
    assert failed.status == Delivery.Status.SENT
    assert failed.last_error == ""
    assert failed.mail_id != failed_mail.pk
    assert (failed.mail.attempts, failed.mail.status) == (1, OutgoingMail.Status.SENT)
    assert failed.mail.message_id != failed_mail.message_id
    failed_mail.refresh_from_db()
    assert (failed_mail.status, failed_mail.attempts) == (OutgoingMail.Status.FAILED, 6)
    assert len(mail.outbox) == 1
    assert failed.recipient_email in mail.outbox[0].to[0]


def test_resend_in_together_mode_sends_one_new_email_to_the_failed_recipients_only(
    django_capture_on_commit_callbacks, settings
):
    settings.LETTERS_PER_RECIPIENT_HOUR = 10**9  # pacing is not what this test is about
    campaign = CampaignFactory(send_mode=Campaign.SendMode.TOGETHER)
    letter = make_letter(campaign=campaign, recipients=3)
    queue(letter, django_capture_on_commit_callbacks)
    sent_mail = letter.mails.get()
    first, second, third = letter.deliveries.order_by("pk")
    Delivery.objects.filter(pk__in=[first.pk, third.pk]).update(status=Delivery.Status.FAILED)
    mail.outbox.clear()

    with django_capture_on_commit_callbacks(execute=True):
        assert deliveries_resend(deliveries=letter.deliveries.all()) == 2

    (message,) = mail.outbox
    assert message.to == [f'"{d.recipient_name}" <{d.recipient_email}>' for d in (first, third)]
    first.refresh_from_db()
    third.refresh_from_db()
    second.refresh_from_db()
    assert first.mail_id == third.mail_id != sent_mail.pk
    assert second.mail_id == sent_mail.pk
    assert message.extra_headers["Message-ID"] == first.mail.message_id
    sent_mail.refresh_from_db()
    assert (sent_mail.status, sent_mail.attempts) == (OutgoingMail.Status.SENT, 1)


def test_the_outbox_backend_keeps_messages_for_the_admin(
    django_capture_on_commit_callbacks, settings
):
    settings.EMAIL_BACKEND = "letters.mail_backends.OutboxBackend"
    letter = make_letter(recipients=1)
    queue(letter, django_capture_on_commit_callbacks)

    kept = OutboxMessage.objects.get()
    delivery = letter.deliveries.get()
    assert kept.message_id == delivery.mail.message_id
    assert kept.subject == letter.subject
    assert delivery.recipient_email in kept.to
    assert "<p>Please act.</p>" in kept.html
    assert delivery.status == Delivery.Status.SENT


# --- One connection per sweep ------------------------------------------------------------------


def test_the_sweep_sends_every_due_mail_over_one_smtp_connection(smtp):
    letter = make_letter(recipients=3, send_copy=True)
    letter_queue(letter=letter)  # four emails, their tasks lost

    assert mails_send_due() == 4

    assert len(smtp.received) == 4
    assert len({r.peer for r in smtp.received}) == 1
    assert set(letter.mails.values_list("status", flat=True)) == {OutgoingMail.Status.SENT}


def test_after_a_failed_send_the_sweep_opens_a_new_connection_for_the_rest(smtp):
    letter = make_letter(recipients=3)
    first, refused, third = letter.deliveries.order_by("pk")
    smtp.reject[refused.recipient_email] = "550 5.1.1 No such user here"
    letter_queue(letter=letter)

    assert mails_send_due() == 2

    assert [r.rcpt_tos for r in smtp.received] == [[first.recipient_email], [third.recipient_email]]
    refused.refresh_from_db()
    assert refused.status == Delivery.Status.FAILED


# --- Recording the outcome survives a database hiccup -------------------------------------------


@pytest.fixture
def no_sleep(monkeypatch):
    slept = []
    monkeypatch.setattr(sending.time, "sleep", slept.append)
    return slept


@pytest.mark.django_db(transaction=True)
def test_recording_an_outcome_is_retried_after_an_operational_error(no_sleep):
    letter = make_letter(recipients=0, send_copy=True)
    row = OutgoingMail.objects.create(
        kind=OutgoingMail.Kind.COPY, letter=letter, campaign=letter.campaign
    )
    calls = []

    def write():
        calls.append(1)
        if len(calls) == 1:
            raise OperationalError("server closed the connection unexpectedly")
        OutgoingMail.objects.filter(pk=row.pk).update(status=OutgoingMail.Status.SENT)

    sending._record(write)

    assert len(calls) == 2
    assert no_sleep == [0.5]
    row.refresh_from_db()
    assert row.status == OutgoingMail.Status.SENT


@pytest.mark.django_db(transaction=True)
def test_recording_an_outcome_gives_up_after_its_attempts(no_sleep):
    calls = []

    def write():
        calls.append(1)
        raise OperationalError("the database is gone")

    with pytest.raises(OperationalError):
        sending._record(write)

    assert len(calls) == sending.RECORD_ATTEMPTS
    assert no_sleep == [0.5, 1, 2, 4, 8]
