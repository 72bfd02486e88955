"""Fault tests: a real Celery worker process, real Redis, a real SMTP conversation.

The worker runs as a separate process on the test database (PostgreSQL: it must see committed
rows, hence transactional tests) and on Redis DB 14, and sends to an aiosmtpd server on a
loopback port. Every worker is bounded in time and killed in teardown.
"""

import os
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
import redis
from django.core.management import call_command
from django.db import connection
from kombu import pools as kombu_pools

from campaigns.models import Campaign
from config.celery_app import app
from letters.delivery import letter_queue
from letters.models import Delivery, Letter
from tests.factories import CampaignFactory
from tests.letters.delivery_helpers import make_letter
from tests.letters.journey_helpers import (  # noqa: F401 (fixtures)
    campaign,
    council,
    journey_settings,
    letter_data,
    write_and_send,
)
from tests.letters.smtp_server import SMTPServer, free_port

pytestmark = [
    pytest.mark.redis,
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
]

BASE_DIR = Path(__file__).resolve().parents[2]
REDIS_DB = 14
WAIT = 180  # seconds: the longest any test waits for the worker
WORKER_LIFETIME = 600  # seconds: no worker outlives this, whatever happens to pytest


def wait_until(predicate, *, timeout=WAIT, interval=0.2, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise AssertionError(f"Timed out after {timeout}s waiting for {what}")


def test_database_url() -> str:
    db = connection.settings_dict
    auth = db["USER"] or ""
    if db.get("PASSWORD"):
        auth += f":{db['PASSWORD']}"
    host = db["HOST"] or "127.0.0.1"
    port = db["PORT"] or 5432
    return f"postgres://{auth}@{host}:{port}/{db['NAME']}"


test_database_url.__test__ = False


def broker_url_for(port: int = 6379, db: int = REDIS_DB) -> str:
    return f"redis://127.0.0.1:{port}/{db}"


class Worker:
    """A `celery -A config worker` process group on the test database."""

    def __init__(self, *, broker_url: str, smtp_port: int, log: Path, extra_env=None):
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("EMAIL_", "ANYMAIL_", "CELERY_", "DELIVERY_"))
        }
        env.update(
            DJANGO_SETTINGS_MODULE="config.settings",
            DATABASE_URL=test_database_url(),
            REDIS_URL=broker_url,
            CELERY_BROKER_URL=broker_url,
            CELERY_TASK_ALWAYS_EAGER="false",
            EMAIL_URL=f"smtp://127.0.0.1:{smtp_port}",
            EMAIL_TIMEOUT="10",
            DELIVERY_RETRY_BACKOFF="1",
            DELIVERY_RETRY_BACKOFF_MAX="2",
            PYTHONUNBUFFERED="1",
            **(extra_env or {}),
        )
        self.env = env
        self.log = log
        self.process = None

    def start(self) -> "Worker":
        command = [
            # A last bound should pytest itself die before its teardown: GNU timeout kills
            # the worker's whole process group after WORKER_LIFETIME seconds.
            "timeout",
            "--signal=KILL",
            str(WORKER_LIFETIME),
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "--pool=prefork",
            "--concurrency=2",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "--loglevel=INFO",
            f"--hostname=faults-{time.monotonic_ns()}@%h",
        ]
        self._log_file = open(self.log, "ab")  # noqa: SIM115 (closed in stop)
        self.process = subprocess.Popen(
            command,
            cwd=BASE_DIR,
            env=self.env,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        wait_until(self._ready, timeout=90, what=f"the worker to start (log: {self.log})")
        return self

    def _ready(self) -> bool:
        if self.process.poll() is not None:
            raise AssertionError(f"The worker exited early: {self.log.read_text()[-3000:]}")
        return b" ready." in self.log.read_bytes()

    def kill(self) -> None:
        """SIGKILL the whole process group (main process and pool children)."""
        if self.process is None or self.process.poll() is not None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait(timeout=30)

    def stop(self) -> None:
        self.kill()
        if getattr(self, "_log_file", None):
            self._log_file.close()


@pytest.fixture
def smtp():
    server = SMTPServer().start()
    yield server
    server.stop()


@pytest.fixture
def workers(tmp_path):
    """Start workers with workers.start(...); all are killed at teardown, whatever happens."""
    started: list[Worker] = []

    class Workers:
        def start(self, **kwargs) -> Worker:
            log = tmp_path / f"worker-{len(started)}.log"
            worker = Worker(log=log, **kwargs)
            started.append(worker)
            return worker.start()

    yield Workers()
    for worker in started:
        worker.stop()


def _publish_to(broker_url: str) -> None:
    """Point this process's Celery app at a broker, with fresh connection pools."""
    kombu_pools.reset()  # closes and forgets every cached connection and producer pool
    app.conf.broker_url = broker_url
    app.conf.task_always_eager = False
    app._pool = None
    app.amqp._producer_pool = None


@pytest.fixture
def broker():
    """Redis DB 14, emptied before and after; this process publishes there."""
    url = broker_url_for()
    client = redis.Redis.from_url(url)
    client.flushdb()
    old_url = app.conf.broker_url
    _publish_to(url)
    yield url
    _publish_to(old_url)
    app.conf.task_always_eager = True
    client.flushdb()
    client.close()


def _statuses() -> Counter:
    return Counter(Delivery.objects.values_list("status", flat=True))


def _all_final(total: int) -> bool:
    counts = _statuses()
    return counts[Delivery.Status.SENT] + counts[Delivery.Status.FAILED] == total


def test_200_letters_to_5_recipients_each_arrive_once_with_the_specified_headers(
    smtp, broker, workers
):
    civic = CampaignFactory(sender_name="Civic Org", sender_email="letters@civic.example.org")
    letters = [make_letter(campaign=civic, recipients=5) for _ in range(200)]
    workers.start(broker_url=broker, smtp_port=smtp.port)

    for letter in letters:
        letter_queue(letter=letter)
    wait_until(lambda: _all_final(1000), what="1000 deliveries to finish")

    assert _statuses() == Counter({Delivery.Status.SENT: 1000})
    received = smtp.recorder.by_message_id()
    deliveries = Delivery.objects.select_related("letter")
    assert set(received) == {d.message_id for d in deliveries}
    assert all(len(copies) == 1 for copies in received.values())
    for delivery in deliveries:
        (arrived,) = received[delivery.message_id]
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
        assert message["Message-ID"] == delivery.message_id
        assert message["To"].addresses[0].addr_spec == delivery.recipient_email
        assert message["Subject"] == delivery.letter.subject
        assert message["Content-Language"] == "en"
        assert message.get_content_type() == "multipart/alternative"
        parts = {part.get_content_type(): part.get_content() for part in message.iter_parts()}
        assert "Please act." in parts["text/plain"]
        assert "<p>Please act.</p>" in parts["text/html"]
        assert "<img" not in parts["text/html"]
        assert delivery.attempts == 1


def test_a_worker_killed_mid_batch_loses_nothing_and_sends_nothing_twice(smtp, broker, workers):
    batch = CampaignFactory()
    letters = [make_letter(campaign=batch, recipients=5) for _ in range(40)]
    total = 200
    first = workers.start(broker_url=broker, smtp_port=smtp.port)
    for letter in letters:
        letter_queue(letter=letter)

    # Let part of the batch through, then hold the next messages mid-conversation (after
    # DATA, before the server's reply), so the kill lands while a delivery is "sending".
    wait_until(lambda: len(smtp.recorder.received) >= 50, what="the first 50 messages")
    smtp.recorder.holding = True
    wait_until(lambda: smtp.recorder.held >= 1, what="a message held mid-send")
    time.sleep(0.3)
    first.kill()
    # Release only once the server has seen the killed worker's connections drop, so no
    # held message is accepted after its sender died.
    wait_until(lambda: smtp.recorder.held == 0, timeout=30, what="held conversations to drop")
    smtp.recorder.holding = False

    stuck = Delivery.objects.filter(status=Delivery.Status.SENDING)
    assert stuck.exists()
    interrupted = set(stuck.values_list("pk", flat=True))
    assert len(smtp.recorder.received) < total

    workers.start(broker_url=broker, smtp_port=smtp.port)
    queue_client = redis.Redis.from_url(broker)

    # The restarted worker drains what is left in Redis; the killed worker's own tasks (held
    # in Redis's unacked set until the visibility timeout) and the interrupted ones stay.
    def drained():
        before = _statuses()
        time.sleep(1.5)
        return queue_client.llen("celery") == 0 and _statuses() == before

    wait_until(drained, what="the queue to drain")
    queue_client.close()
    assert _statuses()[Delivery.Status.SENT] < total

    call_command("requeue_deliveries", "--older-than", "0")
    wait_until(lambda: _all_final(total), what="every delivery to finish")

    assert _statuses() == Counter({Delivery.Status.SENT: total})
    received = smtp.recorder.by_message_id()
    assert set(received) == set(Delivery.objects.values_list("message_id", flat=True))
    assert [mid for mid, copies in received.items() if len(copies) > 1] == []
    assert len(smtp.recorder.received) == total
    for delivery in Delivery.objects.filter(pk__in=interrupted):
        assert delivery.attempts == 2
        assert "stopped while sending" in delivery.last_error


def test_deferred_deliveries_are_retried_and_rejected_ones_fail_alone(smtp, broker, workers):
    letters = [make_letter(recipients=5) for _ in range(5)]
    deliveries = list(Delivery.objects.order_by("pk"))
    deferred, rejected = deliveries[3], deliveries[7]
    smtp.recorder.defer[deferred.recipient_email] = 2
    smtp.recorder.reject[rejected.recipient_email] = "550 5.1.1 Mailbox does not exist"
    workers.start(broker_url=broker, smtp_port=smtp.port)

    for letter in letters:
        letter_queue(letter=letter)
    wait_until(lambda: _all_final(25), timeout=60, what="25 deliveries to finish")

    deferred.refresh_from_db()
    rejected.refresh_from_db()
    assert deferred.status == Delivery.Status.SENT
    assert deferred.attempts == 3
    assert rejected.status == Delivery.Status.FAILED
    assert rejected.attempts == 1
    assert "550" in rejected.last_error
    assert "Mailbox does not exist" in rejected.last_error
    others = Delivery.objects.exclude(pk__in=[deferred.pk, rejected.pk])
    assert {d.status for d in others} == {Delivery.Status.SENT}
    assert {d.attempts for d in others} == {1}
    received = smtp.recorder.by_message_id()
    assert len(smtp.recorder.received) == 24
    assert all(len(copies) == 1 for copies in received.values())
    assert rejected.message_id not in received


@pytest.fixture
def private_redis(tmp_path):
    """A redis-server of this test's own on a free port, which the test stops and starts
    (the shared Redis must stay up for everyone else)."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed")
    port = free_port()
    processes = []

    class PrivateRedis:
        url = broker_url_for(port, 0)

        def start(self):
            process = subprocess.Popen(
                [
                    binary,
                    "--port",
                    str(port),
                    "--bind",
                    "127.0.0.1",
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                    "--dir",
                    str(tmp_path),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            processes.append(process)
            client = redis.Redis.from_url(self.url)
            wait_until(lambda: _pings(client), timeout=20, what="redis-server to start")
            client.close()

        def stop(self):
            """Kill it, as a crash would."""
            for process in processes:
                process.kill()
                process.wait(timeout=10)

    yield PrivateRedis()
    for process in processes:
        process.kill()
        process.wait(timeout=10)


def _pings(client) -> bool:
    try:
        return client.ping()
    except redis.exceptions.ConnectionError:
        return False


def test_a_letter_submitted_while_redis_is_down_goes_out_once_redis_is_back(
    smtp,
    private_redis,
    workers,
    client,
    campaign,  # noqa: F811 (fixtures from journey_helpers)
    council,  # noqa: F811
    journey_settings,  # noqa: F811
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
        assert smtp.recorder.received == []

        private_redis.start()
        workers.start(broker_url=private_redis.url, smtp_port=smtp.port)
        call_command("requeue_deliveries", "--older-than", "0")
        wait_until(lambda: _all_final(3), timeout=60, what="the 3 deliveries to go out")
    finally:
        _publish_to(old_url)
        app.conf.task_always_eager = True

    assert _statuses() == Counter({Delivery.Status.SENT: 3, Delivery.Status.NO_EMAIL: 1})
    received = smtp.recorder.by_message_id()
    assert len(smtp.recorder.received) == 3
    assert set(received) == set(
        letter.deliveries.exclude(recipient_email="").values_list("message_id", flat=True)
    )


def test_whole_council_mode_sends_one_message_to_all_recipients(smtp, broker, workers):
    together = CampaignFactory(send_mode=Campaign.SendMode.TOGETHER)
    letters = [make_letter(campaign=together, recipients=5) for _ in range(3)]
    workers.start(broker_url=broker, smtp_port=smtp.port)

    for letter in letters:
        letter_queue(letter=letter)
    wait_until(lambda: _all_final(15), timeout=60, what="15 deliveries to finish")

    assert len(smtp.recorder.received) == 3
    for letter in letters:
        deliveries = list(letter.deliveries.order_by("pk"))
        (message_id,) = {d.message_id for d in deliveries}
        (arrived,) = smtp.recorder.by_message_id()[message_id]
        assert sorted(arrived.rcpt_tos) == sorted(d.recipient_email for d in deliveries)
        assert [a.addr_spec for a in arrived.message["To"].addresses] == [
            d.recipient_email for d in deliveries
        ]


def test_confirmation_links_sent_in_batches_each_arrive_once(smtp, broker, workers):
    """Letters waiting for confirmation are queued through letters.dispatch (one Celery
    message per window from the web process); every resident still gets their link once."""
    from letters import services

    confirming = CampaignFactory(requires_confirmation=True)
    workers.start(broker_url=broker, smtp_port=smtp.port)
    letters = [
        make_letter(
            campaign=confirming,
            email=f"resident{n}@example.net",
            confirmation_sent_at=None,
        )
        for n in range(30)
    ]
    Letter.objects.update(status=Letter.Status.PENDING_CONFIRMATION, confirmed_at=None)
    for letter in letters:
        services._confirmation_send(letter.pk)
    wait_until(lambda: len(smtp.recorder.received) >= 30, timeout=60, what="30 links")
    time.sleep(2)  # nothing more arrives
    recipients = sorted(arrived.rcpt_tos[0] for arrived in smtp.recorder.received)
    assert recipients == sorted(f"resident{n}@example.net" for n in range(30))
    by_address = {arrived.rcpt_tos[0]: arrived.message for arrived in smtp.recorder.received}
    for letter in letters:
        text = by_address[letter.email].get_body(("plain",)).get_content()
        assert letter.confirmation_token in text
