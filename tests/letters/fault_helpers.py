"""The machinery of the fault tests: real `celery -A config worker` processes on the test
database, a Redis DB of their own as broker, an aiosmtpd sink, and letters to send.

Every worker is bounded in time (GNU timeout) and SIGKILLed with its whole process group in
teardown. The broker is Redis DB FAULTS_REDIS_DB (13 unless set) on the server REDIS_URL names,
so two runs on one machine can be kept apart.
"""

import os
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from urllib.parse import urlparse

import pytest
import redis
from django.db import connection
from django.utils import timezone
from kombu import pools as kombu_pools

from campaigns.models import Campaign
from config.celery_app import app
from councils.models import Representative
from letters.models import Delivery, Letter, OutgoingMail
from letters.tasks import mails_send_due as mails_send_due_task
from tests.conftest import redis_url
from tests.factories import CampaignFactory, MunicipalityFactory, RepresentativeFactory
from tests.letters.smtp_server import SMTPServer, free_port

BASE_DIR = Path(__file__).resolve().parents[2]
REDIS_DB = int(os.environ.get("FAULTS_REDIS_DB", "13"))
# Pacing (LETTERS_PER_RECIPIENT_HOUR) spaces letters to one address minutes apart; these tests
# are about faults, not pacing, so both the test process and its workers send without a gap.
UNPACED = 3_600_000
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


def broker_url_for(port: int | None = None, db: int = REDIS_DB) -> str:
    """The broker on the shared Redis (REDIS_URL's host and port), or on a port of a test's own."""
    if port is None:
        parsed = urlparse(redis_url())
        return f"redis://{parsed.hostname or '127.0.0.1'}:{parsed.port or 6379}/{db}"
    return f"redis://127.0.0.1:{port}/{db}"


class Worker:
    """A `celery -A config worker` process group on the test database."""

    def __init__(
        self, *, broker_url: str, smtp_port: int, log: Path, extra_env=None, concurrency=2
    ):
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
            LETTERS_PER_RECIPIENT_HOUR=str(UNPACED),
            PYTHONUNBUFFERED="1",
        )
        env.update(extra_env or {})
        self.env = env
        self.log = log
        self.concurrency = concurrency
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
            f"--concurrency={self.concurrency}",
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

    def text(self) -> str:
        return self.log.read_text(errors="replace")

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


def assert_clean_log(worker: Worker) -> None:
    """No task of this worker raised, and no exception failed to cross the result pipe."""
    text = worker.text()
    assert "UnpickleableExceptionWrapper" not in text
    assert "raised unexpected" not in text, text[-3000:]
    assert "Traceback" not in text, text[-3000:]


@pytest.fixture
def smtp():
    server = SMTPServer().start()
    yield server
    server.stop()


@pytest.fixture
def sweep_here(settings, smtp):
    """`manage.py requeue_deliveries` in this process sends to the sink, as a worker does."""
    settings.EMAIL_BACKEND = "letters.mail_backends.SMTPBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = smtp.port
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = ""
    settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_TIMEOUT = 10
    return settings


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
    """Redis DB REDIS_DB, emptied before and after; this process publishes there."""
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


# --- The sweep ---------------------------------------------------------------------------------


def sweep_until(predicate, *, timeout=WAIT, every=1.0, what="condition") -> int:
    """Run the beat's sweep (letters.tasks.mails_send_due) on the worker every `every`
    seconds until predicate() holds, as Celery beat would. Returns how many sweeps were sent."""
    deadline = time.monotonic() + timeout
    sweeps = 0
    while time.monotonic() < deadline:
        if predicate():
            return sweeps
        mails_send_due_task.delay()
        sweeps += 1
        time.sleep(every)
    raise AssertionError(f"Timed out after {timeout}s of sweeps waiting for {what}")


# --- The database ------------------------------------------------------------------------------


def terminate_other_connections() -> int:
    """Kill every other connection to the test database (the workers'), as a failover or
    a restarted PostgreSQL would. Returns how many were terminated."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return len(cursor.fetchall())


def statuses() -> Counter:
    return Counter(Delivery.objects.values_list("status", flat=True))


def mail_statuses() -> Counter:
    return Counter(OutgoingMail.objects.values_list("status", flat=True))


def all_final(total: int) -> bool:
    counts = statuses()
    return counts[Delivery.Status.SENT] + counts[Delivery.Status.FAILED] == total


def mails_final() -> bool:
    """No email left queued or sending."""
    return not OutgoingMail.objects.filter(
        status__in=[OutgoingMail.Status.QUEUED, OutgoingMail.Status.SENDING]
    ).exists()


# --- Letters -----------------------------------------------------------------------------------


def council_of(size: int, *, name: str = "Ottawa") -> list[Representative]:
    """One municipality's representatives, each with an address of their own."""
    municipality = MunicipalityFactory(name=name)
    return [
        RepresentativeFactory(
            municipality=municipality,
            name=f"Rep {n}",
            email=f"rep{n}@{name.lower()}.example.org",
        )
        for n in range(size)
    ]


def letter_to(
    representatives: list[Representative],
    *,
    campaign: Campaign | None = None,
    email: str = "jane.resident@example.net",
    send_copy: bool = False,
    confirmed: bool = True,
) -> Letter:
    """A letter from one resident to these representatives, not yet queued (deliveries wait
    for confirmation): queue it with letters.services.letter_queue."""
    campaign = campaign or CampaignFactory()
    now = timezone.now()
    letter = Letter.objects.create(
        campaign=campaign,
        municipality=representatives[0].municipality,
        language="en",
        first_name="Jane",
        last_name="Resident",
        email=email,
        postal_code="K1A 0B1",
        send_copy=send_copy,
        subject="Please act",
        body="Dear Council,\n\nPlease act.\n\n--\nJane Resident",
        status=Letter.Status.CONFIRMED if confirmed else Letter.Status.PENDING_CONFIRMATION,
        confirmed_at=now if confirmed else None,
        confirmation_sent_at=None if confirmed else now,
    )
    Delivery.objects.bulk_create(
        Delivery(
            letter=letter,
            representative=rep,
            recipient_name=rep.name,
            recipient_role="Councillor",
            recipient_email=rep.email,
        )
        for rep in representatives
    )
    return letter
