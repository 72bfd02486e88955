"""Delivery throughput: N letters' deliveries through the real Celery worker into a local SMTP
server, against the limit: a plain smtplib loop sending the same messages.

    .venv/bin/python bench/delivery.py [--n 1000] [--concurrency 2]

Needs PostgreSQL (127.0.0.1:5432, user postgres) and Redis (127.0.0.1:6379). It uses a scratch
database, council_letters_bench_delivery (dropped and created, tables straight from the models, as the
tests do), and Redis DB 13 (emptied). Prints three rates and the ratio worker / limit:
- worker: letter_queue() for every letter until every delivery is "sent" (the full path:
  broker, task, row lock, "sending" commit, rendering, SMTP, "sent" commit);
- smtplib, one connection per message (what the worker does: one SMTP session per delivery);
- smtplib, one connection for all messages (the limit).
"""

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))

DB_NAME = "council_letters_bench_delivery"
DATABASE_URL = f"postgres://postgres@127.0.0.1:5432/{DB_NAME}"
BROKER_URL = "redis://127.0.0.1:6379/13"


def recreate_database() -> None:
    import psycopg2

    conn = psycopg2.connect(host="127.0.0.1", port=5432, user="postgres", dbname="postgres")
    conn.autocommit = True
    with conn.cursor() as cursor:
        cursor.execute(f"DROP DATABASE IF EXISTS {DB_NAME}")
        cursor.execute(f"CREATE DATABASE {DB_NAME}")
    conn.close()


def setup_django(smtp_port: int) -> None:
    os.environ.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        DATABASE_URL=DATABASE_URL,
        CELERY_BROKER_URL=BROKER_URL,
        CELERY_TASK_ALWAYS_EAGER="false",
        EMAIL_URL=f"smtp://127.0.0.1:{smtp_port}",
        LOG_LEVEL="WARNING",
    )
    import django

    django.setup()
    from django.apps import apps
    from django.db import connection

    with connection.schema_editor() as editor:
        for model in apps.get_models():
            if model._meta.managed and not model._meta.proxy:
                editor.create_model(model)


def make_letters(n_letters: int, per_letter: int) -> list:
    from django.utils import timezone

    from campaigns.models import Campaign
    from councils.models import Municipality, Representative
    from letters.models import Delivery, Letter

    campaign = Campaign.objects.create(
        slug="bench",
        status=Campaign.Status.LIVE,
        title_en="Bench",
        letter_subjects_en="Please act in {municipality}",
        letter_template_en="Dear {recipient_name}",
        target_roles=["mayor", "councillor"],
        sender_name="Bench Org",
        sender_email="letters@bench.example.org",
    )
    municipality = Municipality.objects.create(
        ocd_id="ocd-division/country:ca/csd:3500001", name="Benchtown", province="ON"
    )
    reps = Representative.objects.bulk_create(
        Representative(
            municipality=municipality, name=f"Rep {i}", email=f"rep{i}@council.example.org"
        )
        for i in range(n_letters * per_letter)
    )
    now = timezone.now()
    letters = Letter.objects.bulk_create(
        Letter(
            campaign=campaign,
            municipality=municipality,
            first_name="Jane",
            last_name=f"Resident{i}",
            email=f"resident{i}@example.net",
            postal_code="K1A 0B1",
            send_copy=False,
            subject="Please act in Benchtown",
            body="Dear Council,\n\n" + "Please act on this matter. " * 40 + "\n\n--\nJane",
            status=Letter.Status.CONFIRMED,
            confirmed_at=now,
        )
        for i in range(n_letters)
    )
    Delivery.objects.bulk_create(
        Delivery(
            letter=letter,
            representative=rep,
            recipient_name=rep.name,
            recipient_role="Councillor",
            recipient_email=rep.email,
        )
        for index, letter in enumerate(letters)
        for rep in reps[index * per_letter : (index + 1) * per_letter]
    )
    return letters


def start_worker(smtp_port: int, concurrency: int, log_path: str) -> subprocess.Popen:
    env = {
        **os.environ,
        "DATABASE_URL": DATABASE_URL,
        "CELERY_BROKER_URL": BROKER_URL,
        "REDIS_URL": BROKER_URL,
        "EMAIL_URL": f"smtp://127.0.0.1:{smtp_port}",
        "LOG_LEVEL": "WARNING",
        # As in production: DEBUG off (Django then skips its query log and debug cursors).
        "DEBUG": "false",
        "SECRET_KEY": "bench-delivery-not-secret-0123456789-abcdefghijklmnopqrstuvwxyz",
        "ALLOWED_HOSTS": "localhost",
    }
    log = open(log_path, "wb")  # noqa: SIM115 (kept open for the worker's life)
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "--pool=prefork",
            f"--concurrency={concurrency}",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "--loglevel=INFO",
        ],
        cwd=BASE_DIR,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    deadline = time.monotonic() + 90
    while b" ready." not in Path(log_path).read_bytes():
        if process.poll() is not None or time.monotonic() > deadline:
            raise SystemExit("The worker did not start:\n" + Path(log_path).read_text())
        time.sleep(0.2)
    return process


def smtplib_loop(messages: list, port: int, *, one_connection: bool) -> float:
    import smtplib

    started = time.perf_counter()
    if one_connection:
        with smtplib.SMTP("127.0.0.1", port) as smtp:
            for sender, recipients, data in messages:
                smtp.sendmail(sender, recipients, data)
    else:
        for sender, recipients, data in messages:
            with smtplib.SMTP("127.0.0.1", port) as smtp:
                smtp.sendmail(sender, recipients, data)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000, help="deliveries (5 per letter)")
    parser.add_argument("--concurrency", type=int, default=2, help="worker processes")
    args = parser.parse_args()
    per_letter = 5
    n_letters = max(1, args.n // per_letter)
    total = n_letters * per_letter

    sys.path.insert(0, str(BASE_DIR / "tests" / "letters"))
    from smtp_server import SMTPServer  # the tests' aiosmtpd server

    server = SMTPServer().start()
    recreate_database()
    setup_django(server.port)

    import redis
    from django.db import connection

    from letters import emails
    from letters.delivery import letter_queue
    from letters.models import Delivery

    redis.Redis.from_url(BROKER_URL).flushdb()
    letters = make_letters(n_letters, per_letter)
    log_path = tempfile.mktemp(prefix="bench-worker-", suffix=".log")
    worker = start_worker(server.port, args.concurrency, log_path)
    try:
        started = time.perf_counter()
        for letter in letters:
            letter_queue(letter=letter)
        enqueued = time.perf_counter() - started
        while Delivery.objects.filter(status=Delivery.Status.SENT).count() < total:
            if time.perf_counter() - started > 600:
                raise SystemExit("Timed out: " + Path(log_path).read_text()[-3000:])
            time.sleep(0.1)
        worker_seconds = time.perf_counter() - started
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        worker.wait(timeout=30)
    arrived = len(server.recorder.received)
    duplicates = arrived - len(server.recorder.by_message_id())

    # The same messages, built by the app once more, sent by a plain loop.
    messages = []
    for delivery in Delivery.objects.select_related(
        "letter__campaign", "letter__municipality"
    ).order_by("pk"):
        message = emails.letter_message([delivery], message_id=delivery.message_id)
        messages.append(
            (
                "letters@bench.example.org",
                message.recipients(),
                message.message().as_bytes(linesep="\r\n"),
            )
        )
    per_message = smtplib_loop(messages, server.port, one_connection=False)
    one_connection = smtplib_loop(messages, server.port, one_connection=True)
    server.stop()
    connection.close()

    worker_rate = total / worker_seconds
    limit_rate = total / one_connection
    print(
        f"deliveries: {total} ({n_letters} letters x {per_letter}), arrived {arrived}, "
        f"duplicates {duplicates}, worker concurrency {args.concurrency}"
    )
    print(
        f"worker (queue -> sent):        {worker_rate:8.1f} msg/s  ({worker_seconds:.2f} s; "
        f"enqueueing took {enqueued:.2f} s)"
    )
    print(f"smtplib, connection per msg:   {total / per_message:8.1f} msg/s  ({per_message:.2f} s)")
    print(f"smtplib, one connection:       {limit_rate:8.1f} msg/s  ({one_connection:.2f} s)")
    print(f"ratio worker / limit:          {worker_rate / limit_rate:8.2f}")
    print(f"ratio worker / per-message:    {worker_rate / (total / per_message):8.2f}")


if __name__ == "__main__":
    main()
