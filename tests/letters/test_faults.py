# ruff: noqa: F811  (fixtures imported from fault_helpers and journey_helpers)
"""Fault tests: a real Celery worker process, real Redis, a real SMTP conversation.

The worker runs as a separate process on the test database (PostgreSQL: it must see committed
rows, hence transactional tests) and on its own Redis DB (tests.letters.fault_helpers), and
sends to an aiosmtpd server on a loopback port. Every worker is bounded in time and killed in
teardown. Nothing but the outside world is staged: the sink refuses, defers, delays or holds;
the database loses its connections; a worker is SIGKILLed.

Retries are not Celery's: a failed send waits on its OutgoingMail row, and the sweep
(letters.tasks.mails_send_due, run by beat in production) sends it when due. Here the tests
play beat with fault_helpers.sweep_until, on the worker.
"""

import re
import time
from collections import Counter
from io import StringIO

import pytest
import redis
from django.core.management import call_command
from django.db import transaction

from campaigns.models import Campaign
from letters.models import Delivery, Letter, OutgoingMail
from letters.services import letter_queue, letter_submit, mails_queue
from letters.tasks import mails_send_due as mails_send_due_task
from tests.factories import CampaignFactory
from tests.letters.delivery_helpers import make_letter
from tests.letters.fault_helpers import (  # noqa: F401 (fixtures; test_redis_outage imports some)
    UNPACED,
    _publish_to,
    all_final,
    app,
    assert_clean_log,
    broker,
    council_of,
    letter_to,
    mail_statuses,
    mails_final,
    private_redis,
    smtp,
    statuses,
    sweep_here,
    sweep_until,
    terminate_other_connections,
    wait_until,
    workers,
)
from tests.letters.journey_helpers import (  # noqa: F401 (fixtures)
    campaign,
    council,
    journey_settings,
    letter_data,
    write_and_send,
)

pytestmark = [
    pytest.mark.redis,
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
]


@pytest.fixture(autouse=True)
def unpaced(settings):
    """Letters queued here (slots_take runs in this process) go out without pacing gaps."""
    settings.LETTERS_PER_RECIPIENT_HOUR = UNPACED


def _sent_once(received: dict, message_ids) -> bool:
    return all(len(received.get(mid, [])) == 1 for mid in message_ids)


# --- Load, headers, a killed worker --------------------------------------------------------------


def test_100_letters_to_5_recipients_each_arrive_once_with_the_specified_headers(
    smtp, broker, workers
):
    # 500 emails take about 50 s on two busy cores.
    civic = CampaignFactory(organization_name="Civic Org", sender_email="letters@civic.example.org")
    letters = [make_letter(campaign=civic, recipients=5) for _ in range(100)]
    worker = workers.start(broker_url=broker, smtp_port=smtp.port)

    for letter in letters:
        letter_queue(letter=letter)
    wait_until(lambda: all_final(500), what="500 deliveries to finish")

    assert statuses() == Counter({Delivery.Status.SENT: 500})
    assert mail_statuses() == Counter({OutgoingMail.Status.SENT: 500})
    received = smtp.recorder.by_message_id()
    deliveries = list(Delivery.objects.select_related("letter", "mail"))
    assert set(received) == {d.mail.message_id for d in deliveries}
    assert len({d.mail_id for d in deliveries}) == 500  # one email per recipient
    assert all(len(copies) == 1 for copies in received.values())
    for delivery in deliveries:
        (arrived,) = received[delivery.mail.message_id]
        message = arrived.message
        assert arrived.rcpt_tos == [delivery.recipient_email]
        assert arrived.mail_from == "letters@civic.example.org"
        (sender,) = message["From"].addresses
        assert (sender.display_name, sender.addr_spec) == (
            "Jane Resident via Civic Org",
            "letters@civic.example.org",
        )
        (reply_to,) = message["Reply-To"].addresses
        assert (reply_to.display_name, reply_to.addr_spec) == (
            "Jane Resident",
            "jane.resident@example.net",
        )
        assert message["Message-ID"] == delivery.mail.message_id
        assert message["To"].addresses[0].addr_spec == delivery.recipient_email
        assert message["Subject"] == delivery.letter.subject
        assert message["Content-Language"] == "en"
        assert message.get_content_type() == "multipart/alternative"
        parts = {part.get_content_type(): part.get_content() for part in message.iter_parts()}
        assert "Please act." in parts["text/plain"]
        assert "<p>Please act.</p>" in parts["text/html"]
        assert "<img" not in parts["text/html"]
        assert delivery.mail.attempts == 1
        assert delivery.mail.sent_at is not None
        assert delivery.sent_at is not None
    assert_clean_log(worker)


def test_a_worker_killed_mid_batch_loses_nothing_and_sends_nothing_twice(
    smtp, sweep_here, broker, workers, caplog
):
    batch = CampaignFactory()
    letters = [make_letter(campaign=batch, recipients=5) for _ in range(40)]
    total = 200
    first = workers.start(broker_url=broker, smtp_port=smtp.port)
    for letter in letters:
        letter_queue(letter=letter)

    # Let part of the batch through, then hold the next messages mid-conversation (after
    # DATA, before the server's reply), so the kill lands while an email is "sending".
    wait_until(lambda: len(smtp.recorder.received) >= 50, what="the first 50 messages")
    smtp.recorder.holding = True
    wait_until(lambda: smtp.recorder.held >= 1, what="a message held mid-send")
    time.sleep(0.3)
    first.kill()
    # Release only once the server has seen the killed worker's connections drop, so no
    # held message is accepted after its sender died.
    wait_until(lambda: smtp.recorder.held == 0, timeout=30, what="held conversations to drop")
    smtp.recorder.holding = False

    stuck = OutgoingMail.objects.filter(status=OutgoingMail.Status.SENDING)
    interrupted = dict(stuck.values_list("pk", "message_id"))
    assert interrupted
    assert set(
        Delivery.objects.filter(status=Delivery.Status.SENDING).values_list("mail", flat=True)
    ) == set(interrupted)
    assert len(smtp.recorder.received) < total

    second = workers.start(broker_url=broker, smtp_port=smtp.port)
    queue_client = redis.Redis.from_url(broker)

    # The restarted worker drains what is left in Redis; the killed worker's own tasks (held
    # in Redis's unacked set until the visibility timeout) and the interrupted ones stay.
    def drained():
        before = statuses()
        time.sleep(1.5)
        return queue_client.llen("celery") == 0 and statuses() == before

    wait_until(drained, what="the queue to drain")
    queue_client.close()
    assert statuses()[Delivery.Status.SENT] < total
    # Not stuck for long enough yet: the worker's tasks for them changed nothing.
    assert set(
        OutgoingMail.objects.filter(status=OutgoingMail.Status.SENDING).values_list("pk", flat=True)
    ) == set(interrupted)

    call_command("requeue_deliveries", "--older-than", "0")
    assert all_final(total)

    assert statuses() == Counter({Delivery.Status.SENT: total})
    assert mail_statuses() == Counter({OutgoingMail.Status.SENT: total})
    received = smtp.recorder.by_message_id()
    assert set(received) == set(OutgoingMail.objects.values_list("message_id", flat=True))
    assert [mid for mid, copies in received.items() if len(copies) > 1] == []
    assert len(smtp.recorder.received) == total
    for mail in OutgoingMail.objects.filter(pk__in=interrupted):
        assert mail.attempts == 2
        assert mail.message_id == interrupted[mail.pk]  # the same Message-ID as before
    left_sending = {
        int(re.search(r"Email (\d+) was left sending", record.getMessage()).group(1))
        for record in caplog.records
        if "was left sending" in record.getMessage()
    }
    assert left_sending == set(interrupted)
    assert_clean_log(second)


def test_deferred_deliveries_are_retried_and_rejected_ones_fail_alone(smtp, broker, workers):
    letters = [make_letter(recipients=5) for _ in range(5)]
    deliveries = list(Delivery.objects.order_by("pk"))
    deferred, rejected = deliveries[3], deliveries[7]
    smtp.recorder.defer[deferred.recipient_email] = 2
    smtp.recorder.reject[rejected.recipient_email] = "550 5.1.1 Mailbox does not exist"
    worker = workers.start(broker_url=broker, smtp_port=smtp.port)

    for letter in letters:
        letter_queue(letter=letter)
    sweep_until(lambda: all_final(25), timeout=90, what="25 deliveries to finish")

    deferred.refresh_from_db()
    rejected.refresh_from_db()
    assert deferred.status == Delivery.Status.SENT
    assert deferred.mail.attempts == 3
    assert deferred.mail.status == OutgoingMail.Status.SENT
    assert "451" in deferred.mail.last_error  # the row keeps its history
    assert rejected.status == Delivery.Status.FAILED
    assert rejected.mail.attempts == 1
    assert rejected.mail.status == OutgoingMail.Status.FAILED
    assert "550" in rejected.last_error
    assert "Mailbox does not exist" in rejected.last_error
    rejected.representative.refresh_from_db()
    assert rejected.representative.bounce_count == 1
    others = Delivery.objects.exclude(pk__in=[deferred.pk, rejected.pk]).select_related("mail")
    assert {d.status for d in others} == {Delivery.Status.SENT}
    assert {d.mail.attempts for d in others} == {1}
    received = smtp.recorder.by_message_id()
    assert len(smtp.recorder.received) == 24
    assert all(len(copies) == 1 for copies in received.values())
    assert rejected.mail.message_id not in received
    assert set(received) == {d.mail.message_id for d in [*others, deferred]}
    assert_clean_log(worker)


def test_a_letter_submitted_while_redis_is_down_goes_out_once_redis_is_back(
    smtp,
    private_redis,
    workers,
    client,
    campaign,
    council,
    journey_settings,
):
    campaign.requires_confirmation = False
    campaign.save()
    old_url = app.conf.broker_url
    _publish_to(private_redis.url)  # nothing listens there yet
    try:
        started = time.monotonic()
        response = write_and_send(
            client,
            campaign,
            letter_data(recipients=[rep.pk for rep in council["emailable"]], send_copy=None),
        )
        # The resident's letter is saved and they get the thank-you page, in reasonable time
        # despite the broker.
        assert response.status_code == 302
        assert response["Location"] == f"/campaigns/{campaign.slug}/thanks/"
        assert client.get(response["Location"]).status_code == 200
        assert time.monotonic() - started < 30
        letter = Letter.objects.get()
        assert letter.status == Letter.Status.CONFIRMED
        assert set(
            letter.deliveries.exclude(recipient_email="").values_list("status", flat=True)
        ) == {Delivery.Status.QUEUED}
        assert mail_statuses() == Counter({OutgoingMail.Status.QUEUED: 3})
        assert smtp.recorder.received == []

        private_redis.start()
        worker = workers.start(broker_url=private_redis.url, smtp_port=smtp.port)
        # Their tasks were never queued: beat's sweep finds the rows.
        sweep_until(lambda: all_final(3), timeout=60, what="the 3 deliveries to go out")
    finally:
        _publish_to(old_url)
        app.conf.task_always_eager = True

    assert statuses() == Counter({Delivery.Status.SENT: 3, Delivery.Status.NO_EMAIL: 1})
    received = smtp.recorder.by_message_id()
    assert len(smtp.recorder.received) == 3
    assert set(received) == set(
        letter.deliveries.exclude(recipient_email="").values_list("mail__message_id", flat=True)
    )
    assert set(OutgoingMail.objects.values_list("attempts", flat=True)) == {1}
    assert_clean_log(worker)


def test_whole_council_mode_sends_one_message_to_all_recipients(smtp, broker, workers):
    together = CampaignFactory(send_mode=Campaign.SendMode.TOGETHER)
    letters = [make_letter(campaign=together, recipients=5) for _ in range(3)]
    worker = workers.start(broker_url=broker, smtp_port=smtp.port)

    for letter in letters:
        letter_queue(letter=letter)
    wait_until(lambda: all_final(15), timeout=60, what="15 deliveries to finish")

    assert statuses() == Counter({Delivery.Status.SENT: 15})
    assert len(smtp.recorder.received) == 3
    received = smtp.recorder.by_message_id()
    for letter in letters:
        deliveries = list(letter.deliveries.select_related("mail").order_by("pk"))
        (message_id,) = {d.mail.message_id for d in deliveries}
        (arrived,) = received[message_id]
        assert arrived.message["Message-ID"] == message_id
        assert sorted(arrived.rcpt_tos) == sorted(d.recipient_email for d in deliveries)
        assert [a.addr_spec for a in arrived.message["To"].addresses] == [
            d.recipient_email for d in deliveries
        ]
    assert_clean_log(worker)


def test_confirmation_links_for_30_letters_each_arrive_once(
    smtp,
    broker,
    workers,
    campaign,
    council,
    journey_settings,
):
    """Letters waiting for confirmation: one confirmation row each, and its task, queued by
    letter_submit after commit; every resident gets their own link once."""
    worker = workers.start(broker_url=broker, smtp_port=smtp.port)
    letters = [
        letter_submit(
            campaign=campaign,
            municipality=council["municipality"],
            representative_ids=[rep.pk for rep in council["emailable"]],
            first_name="Jane",
            last_name="Resident",
            email=f"resident{n}@example.net",
            postal_code="K1A 0B1",
            language="en",
        )
        for n in range(30)
    ]
    assert {letter.status for letter in letters} == {Letter.Status.PENDING_CONFIRMATION}
    wait_until(mails_final, timeout=90, what="30 confirmation emails to go out")
    time.sleep(2)  # nothing more arrives

    assert mail_statuses() == Counter({OutgoingMail.Status.SENT: 30})
    recipients = sorted(arrived.rcpt_tos[0] for arrived in smtp.recorder.received)
    assert recipients == sorted(f"resident{n}@example.net" for n in range(30))
    by_address = {arrived.rcpt_tos[0]: arrived.message for arrived in smtp.recorder.received}
    for letter in letters:
        (mail,) = letter.mails.all()
        assert (mail.kind, mail.attempts) == (OutgoingMail.Kind.CONFIRMATION, 1)
        message = by_address[letter.email]
        assert message["Message-ID"] == mail.message_id
        text = message.get_body(("plain",)).get_content()
        assert f"/letters/confirm/{letter.confirmation_token}/" in text
    # Still waiting for their writers: nothing went to the council.
    assert set(Delivery.objects.values_list("status", flat=True)) == {
        Delivery.Status.PENDING_CONFIRMATION,
        Delivery.Status.NO_EMAIL,
    }
    assert_clean_log(worker)


# --- The faults the new path must not have -------------------------------------------------------


def test_whole_council_mode_fails_only_the_refused_recipients(smtp, broker, workers):
    together = CampaignFactory(send_mode=Campaign.SendMode.TOGETHER)
    reps = council_of(5)
    refused = reps[2]
    smtp.recorder.reject[refused.email] = "550 5.1.1 Mailbox unavailable"
    letters = [
        letter_to(reps, campaign=together, email=f"resident{n}@example.net") for n in range(3)
    ]
    worker = workers.start(broker_url=broker, smtp_port=smtp.port)

    for letter in letters:
        letter_queue(letter=letter)
    wait_until(lambda: all_final(15), timeout=60, what="15 deliveries to finish")

    assert statuses() == Counter({Delivery.Status.SENT: 12, Delivery.Status.FAILED: 3})
    # What the database calls sent is what the server took.
    assert sum(len(arrived.rcpt_tos) for arrived in smtp.recorder.received) == 12
    received = smtp.recorder.by_message_id()
    assert len(smtp.recorder.received) == len(received) == 3
    for letter in letters:
        (mail,) = letter.mails.all()
        assert (mail.status, mail.attempts) == (OutgoingMail.Status.SENT, 1)
        (arrived,) = received[mail.message_id]
        sent = letter.deliveries.filter(status=Delivery.Status.SENT)
        assert sorted(arrived.rcpt_tos) == sorted(d.recipient_email for d in sent)
        (failed,) = letter.deliveries.filter(status=Delivery.Status.FAILED)
        assert failed.representative == refused
        assert failed.mail == mail
        assert failed.sent_at is None
        assert "550" in failed.last_error
        assert "5.1.1 Mailbox unavailable" in failed.last_error
    refused.refresh_from_db()
    assert refused.bounce_count == 3  # one per refused letter
    assert {rep.bounce_count for rep in reps if rep != refused} == {0}
    assert_clean_log(worker)


def test_sent_is_recorded_on_a_fresh_connection_when_the_database_drops_mid_send(
    smtp, sweep_here, broker, workers
):
    reps = council_of(4)
    letters = [letter_to(reps, email=f"resident{n}@example.net") for n in range(4)]
    # The server takes 2 s to answer DATA: long enough to kill the worker's database
    # connections while each message is in the SMTP conversation.
    smtp.recorder.data_delay = 2
    worker = workers.start(
        broker_url=broker,
        smtp_port=smtp.port,
        # A task that the lost connection stopped between claim and send leaves its row
        # "sending"; the sweep sends it after 25 s rather than the default 150 s.
        extra_env={
            "CELERY_TASK_TIME_LIMIT": "20",
            "CELERY_TASK_SOFT_TIME_LIMIT": "15",
            "DELIVERY_STUCK_AFTER": "25",
        },
    )

    for letter in letters:
        letter_queue(letter=letter)
    assert OutgoingMail.objects.count() == 16

    seen, kills, swept = 0, 0, time.monotonic()
    deadline = time.monotonic() + 120
    while Delivery.objects.filter(status=Delivery.Status.SENT).count() < 16:
        assert time.monotonic() < deadline, f"Timed out: {statuses()}, {kills} kills"
        if smtp.recorder.data_started > seen:
            # A message entered DATA: every worker connection dies while it waits for "250".
            seen = smtp.recorder.data_started
            time.sleep(0.2)
            terminate_other_connections()
            kills += 1
        elif time.monotonic() - swept > 2:
            # Tasks the lost connection stopped before their claim wait for beat's sweep.
            mails_send_due_task.delay()
            swept = time.monotonic()
        else:
            time.sleep(0.05)
    assert kills >= 8  # the two worker processes send side by side

    assert statuses() == Counter({Delivery.Status.SENT: 16})
    assert mail_statuses() == Counter({OutgoingMail.Status.SENT: 16})
    received = smtp.recorder.by_message_id()
    assert set(received) == set(OutgoingMail.objects.values_list("message_id", flat=True))
    assert all(len(copies) == 1 for copies in received.values())
    log = worker.text()
    # Each of the 16 lost its connection while the server had its message.
    assert log.count("Recording an email's outcome failed; retrying") >= 16
    assert "UnpickleableExceptionWrapper" not in log

    # A sweep that takes every row left "sending", however young, finds none: nothing was
    # left behind to be sent a second time.
    out = StringIO()
    call_command("requeue_deliveries", "--older-than", "0", stdout=out)
    assert out.getvalue().startswith("Sent 0 due emails")
    time.sleep(3)
    assert len(smtp.recorder.received) == 16
    assert mail_statuses() == Counter({OutgoingMail.Status.SENT: 16})


def test_a_worker_whose_idle_database_connection_died_sends_the_next_letter_at_once(
    smtp, broker, workers
):
    """Worker processes keep their database connection from one task to the next
    (config.celery_app). One that PostgreSQL dropped meanwhile, as a restart or a failover
    would, is noticed and replaced before it is used: the next letter goes out with its own
    task, not a sweep later."""
    reps = council_of(2)
    worker = workers.start(broker_url=broker, smtp_port=smtp.port)
    first = letter_to(reps, email="first@example.net")
    letter_queue(letter=first)
    # Its task is over (the emails recorded sent), so the connection is idle when it dies.
    wait_until(lambda: "succeeded in" in worker.text(), what="the first letter's task")
    assert statuses() == Counter({Delivery.Status.SENT: 2})

    assert terminate_other_connections() >= 1  # the worker's, kept open while it waits
    second = letter_to(reps, email="second@example.net")
    letter_queue(letter=second)
    # No sweep runs here: only the second letter's own task can send it (and record it sent,
    # which comes a moment after the sink has the message).
    wait_until(lambda: all_final(4), timeout=20, what="the second letter")

    assert len(smtp.recorder.received) == 4
    assert statuses() == Counter({Delivery.Status.SENT: 4})
    assert mail_statuses() == Counter({OutgoingMail.Status.SENT: 4})
    assert all(len(copies) == 1 for copies in smtp.recorder.by_message_id().values())
    assert_clean_log(worker)


def test_a_letter_a_copy_and_a_confirmation_outlast_a_server_answering_451(smtp, broker, workers):
    reps = council_of(1)
    letter = letter_to(reps, email="jane@example.net", send_copy=True)
    pending = letter_to(reps, email="joe@example.net", confirmed=False)
    worker = workers.start(broker_url=broker, smtp_port=smtp.port)
    # Every message is answered 451 for the next 5 s (counted once the worker is up, however
    # long it took to start); retries come after 1 s, then 2 s.
    smtp.recorder.tempfail_until = time.monotonic() + 5

    letter_queue(letter=letter)
    with transaction.atomic():
        mails_queue([OutgoingMail(kind=OutgoingMail.Kind.CONFIRMATION, letter=pending)])
    mails = list(OutgoingMail.objects.order_by("pk"))
    assert [mail.kind for mail in mails] == [
        OutgoingMail.Kind.LETTER,
        OutgoingMail.Kind.COPY,
        OutgoingMail.Kind.CONFIRMATION,
    ]
    sweep_until(mails_final, timeout=90, what="the three emails to go out")

    assert mail_statuses() == Counter({OutgoingMail.Status.SENT: 3})
    received = smtp.recorder.by_message_id()
    assert len(smtp.recorder.received) == 3
    for mail in mails:
        mail.refresh_from_db()
        assert len(received[mail.message_id]) == 1
        assert mail.attempts >= 2
        assert "451" in mail.last_error  # the row keeps its history
    assert received[mails[0].message_id][0].rcpt_tos == [reps[0].email]
    assert received[mails[1].message_id][0].rcpt_tos == ["jane@example.net"]
    assert received[mails[2].message_id][0].rcpt_tos == ["joe@example.net"]
    assert letter.deliveries.get().status == Delivery.Status.SENT
    assert_clean_log(worker)


def test_smtp_refusals_count_as_bounces_and_flag_the_address(smtp, broker, workers):
    (rep,) = council_of(1)
    smtp.recorder.reject[rep.email] = "550 5.1.1 No such user here"
    worker = workers.start(broker_url=broker, smtp_port=smtp.port)

    first = letter_to([rep], email="resident0@example.net")
    letter_queue(letter=first)
    wait_until(lambda: all_final(1), timeout=60, what="the first delivery to fail")
    delivery = first.deliveries.get()
    assert delivery.status == Delivery.Status.FAILED
    assert "550" in delivery.last_error
    assert "No such user here" in delivery.last_error
    assert delivery.mail.status == OutgoingMail.Status.FAILED
    assert delivery.mail.attempts == 1  # permanent: not retried
    rep.refresh_from_db()
    assert (rep.bounce_count, rep.email_flagged) == (1, False)

    for n in (1, 2):
        letter_queue(letter=letter_to([rep], email=f"resident{n}@example.net"))
    wait_until(lambda: all_final(3), timeout=60, what="three deliveries to fail")
    assert statuses() == Counter({Delivery.Status.FAILED: 3})
    rep.refresh_from_db()
    assert (rep.bounce_count, rep.email_flagged) == (3, True)

    later = letter_to([rep], email="resident3@example.net")
    letter_queue(letter=later)
    assert later.deliveries.get().status == Delivery.Status.NO_EMAIL
    assert not later.mails.exists()
    assert smtp.recorder.received == []
    assert_clean_log(worker)


STUCK_AFTER = 10  # seconds; the worker's task time limit is 6 s


def test_rows_left_sending_by_a_killed_worker_go_out_after_delivery_stuck_after(
    smtp, sweep_here, broker, workers
):
    sweep_here.DELIVERY_STUCK_AFTER = STUCK_AFTER
    quick = {
        "CELERY_TASK_TIME_LIMIT": "6",
        "CELERY_TASK_SOFT_TIME_LIMIT": "5",
        "DELIVERY_STUCK_AFTER": str(STUCK_AFTER),
    }
    reps = council_of(3)
    letters = [letter_to(reps, email=f"resident{n}@example.net") for n in range(2)]
    smtp.recorder.holding = True
    first = workers.start(broker_url=broker, smtp_port=smtp.port, extra_env=quick)
    # One letter after the other: the second letter's emails go to the same councillors, so
    # a claim that came first would see the first letter's emails still queued before them
    # and move them on by the pace's interval (for the sweep to send), not hold them.
    letter_queue(letter=letters[0])
    wait_until(lambda: smtp.recorder.held >= 1, timeout=60, what="a message held mid-send")
    letter_queue(letter=letters[1])

    # Both of the worker's processes are in the middle of a message, each with the rest of
    # its letter's emails claimed for the same connection: kill them there.
    wait_until(lambda: smtp.recorder.held >= 2, timeout=60, what="two messages held mid-send")
    first.kill()
    wait_until(lambda: smtp.recorder.held == 0, timeout=30, what="held conversations to drop")
    smtp.recorder.holding = False
    stuck = OutgoingMail.objects.filter(status=OutgoingMail.Status.SENDING)
    interrupted = {mail.pk: mail for mail in stuck}
    assert len(interrupted) == 6
    assert smtp.recorder.received == []

    # A sweep right away leaves alone what may still be in the middle of a conversation: a
    # claimed email does not say whether its turn came.
    call_command("requeue_deliveries")
    assert mail_statuses() == Counter({OutgoingMail.Status.SENDING: 6})
    assert set(stuck.values_list("pk", flat=True)) == set(interrupted)

    # Beat's sweep on a new worker sends them once they are old enough, not before.
    second = workers.start(broker_url=broker, smtp_port=smtp.port, extra_env=quick)
    sweep_until(mails_final, timeout=60, every=0.5, what="the stuck emails to go out")

    assert mail_statuses() == Counter({OutgoingMail.Status.SENT: 6})
    assert statuses() == Counter({Delivery.Status.SENT: 6})
    received = smtp.recorder.by_message_id()
    assert len(smtp.recorder.received) == 6
    assert set(received) == set(OutgoingMail.objects.values_list("message_id", flat=True))
    for pk, before in interrupted.items():
        mail = OutgoingMail.objects.get(pk=pk)
        (arrived,) = received[mail.message_id]
        assert mail.message_id == before.message_id
        assert mail.attempts == 2
        claimed = before.updated_at.timestamp()
        assert arrived.arrived_at >= claimed + STUCK_AFTER
        assert arrived.arrived_at < claimed + STUCK_AFTER + 30
    log = second.text()
    for pk in interrupted:
        assert f"Email {pk} was left sending; sending it again" in log
    assert "UnpickleableExceptionWrapper" not in log
