"""Delivery rate through the real Celery worker, against the limit: a plain smtplib loop sending
the same messages over one connection to the same SMTP sink, in the same run.

Run by hand from the repository root (needs PostgreSQL and Redis; a minute or two):
    .venv/bin/python bench/delivery.py [--letters 200] [--recipients 5] [--concurrency 2]

It creates the scratch database council_letters_bench_delivery (tables from the models;
dropped at the end), uses Redis DB 11 (emptied) as the broker and cache, starts an aiosmtpd
sink in this process and `celery -A config worker` with --concurrency processes sending to it
(EMAIL_URL, DEBUG off as in production). It saves --letters confirmed letters, each to
--recipients representatives ("one email to each recipient", no copy), sends two letters per
worker process to warm it up, then times, with the worker running:
- confirm to sent: letters.services.letter_queue() for every letter, in this process (the
  path a confirmation takes: an OutgoingMail row per email, paced, one mails_send task per
  letter after commit), until every row is sent; the worker sends while this process is still
  queueing, so the figure is the slower of the two;
- the worker alone: another --letters letters queued the same way while the worker's consumer
  is paused (their tasks wait in the broker, every row due), then the consumer resumed and
  timed until every row is sent; that is the broker, the task, the claim and its commit,
  building the message, one SMTP session, and recording it sent;
- the limit: the very messages the sink received in the first run (envelope and bytes), sent
  again by one smtplib connection in a loop, three times: the fastest loop is the limit;
- for reference, the same loop opening a connection per message.
Prints the rates, each run's ratio to the limit beside the targets (issue 12: at least 0.15;
issue 15: 0.5 through the worker), and CPU milliseconds per email by process. Exits with 1
when an email did not arrive or arrived twice.
"""

import argparse
import os
import re
import smtplib
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import serving  # bench/ is on sys.path when this script runs
from aiosmtpd.controller import Controller

sys.path.insert(0, str(serving.ROOT))

DATABASE_URL = "postgres://postgres@127.0.0.1:5432/council_letters_bench_delivery"
REDIS_URL = "redis://127.0.0.1:6379/11"
TARGET_RATIO = 0.15
LATER_TARGET_RATIO = 0.5
LIMIT_LOOPS = 3
MESSAGE_ID = re.compile(rb"^Message-ID:\s*(\S+)", re.IGNORECASE | re.MULTILINE)


class Sink:
    """An aiosmtpd handler that accepts everything and keeps each message as it came."""

    def __init__(self):
        self.received: list[tuple[str, list[str], bytes]] = []

    async def handle_DATA(self, server, session, envelope):
        self.received.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 2.0.0 Message accepted"


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
        send_mode=Campaign.SendMode.EACH,
        organization_name="Bench Org",
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
            email_canonical=f"resident{i}@example.net",
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
            status=Delivery.Status.PENDING_CONFIRMATION,
        )
        for index, letter in enumerate(letters)
        for rep in reps[index * per_letter : (index + 1) * per_letter]
    )
    return letters


def smtplib_loop(messages: list, port: int, *, one_connection: bool) -> float:
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
    parser.add_argument("--letters", type=int, default=200)
    parser.add_argument("--recipients", type=int, default=5, help="emails per letter")
    parser.add_argument("--concurrency", type=int, default=2, help="Celery worker processes")
    parser.add_argument("--timeout", type=float, default=600, help="seconds to wait for the worker")
    args = parser.parse_args()
    total = args.letters * args.recipients

    sink = Sink()
    port = serving.free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port, ready_timeout=10)
    controller.start()
    env = serving.production_env(
        database_url=DATABASE_URL,
        redis_url=REDIS_URL,
        EMAIL_URL=f"smtp://127.0.0.1:{port}",
        EMAIL_TIMEOUT="10",
    )
    worker = None
    try:
        serving.flush_redis(env)
        serving.recreate_database(env)
        os.environ.update(env)
        import django

        django.setup()
        from letters.models import OutgoingMail
        from letters.services import letter_queue

        # Two letters per worker process first, not counted: a long-running worker has its
        # database connection open and its templates compiled.
        warm_letters = 2 * args.concurrency
        letters = make_letters(warm_letters + 2 * args.letters, args.recipients)
        log = Path(tempfile.mkdtemp(prefix="bench-delivery-")) / "worker.log"
        worker = serving.start_worker(env, args.concurrency, log)
        unfinished = OutgoingMail.objects.filter(
            status__in=[OutgoingMail.Status.QUEUED, OutgoingMail.Status.SENDING]
        )

        def drain(since: float) -> None:
            while unfinished.exists():
                if time.perf_counter() - since > args.timeout:
                    raise SystemExit(
                        f"Timed out; emails by status: {statuses()}\n{log.read_text()[-3000:]}"
                    )
                time.sleep(0.05)

        for letter in letters[:warm_letters]:
            letter_queue(letter=letter)
        drain(time.perf_counter())
        warm_emails = len(sink.received)

        groups = {worker.pid: "worker"}
        before = serving.cpu_seconds(groups)
        started = time.perf_counter()
        for letter in letters[warm_letters : warm_letters + args.letters]:
            letter_queue(letter=letter)
        queued = time.perf_counter() - started
        drain(started)
        worker_seconds = time.perf_counter() - started
        cpu = serving.cpu_used(before, serving.cpu_seconds(groups))
        end_to_end_emails = len(sink.received)

        # The worker alone: every row saved and due, its task waiting in the broker, before the
        # worker takes any (its consumer paused meanwhile).
        from config.celery_app import app

        app.control.cancel_consumer("celery", reply=True, limit=1, timeout=5)
        for letter in letters[warm_letters + args.letters :]:
            letter_queue(letter=letter)
        before_drain = serving.cpu_seconds(groups)
        started = time.perf_counter()
        app.control.add_consumer("celery", reply=True, limit=1, timeout=5)
        drain(started)
        drain_seconds = time.perf_counter() - started
        drain_cpu = serving.cpu_used(before_drain, serving.cpu_seconds(groups))
        rows = statuses()
    finally:
        if worker is not None:
            serving.stop(worker)
        # The database is dropped WITH (FORCE), this process's connection with it.
        serving.flush_redis(env)
        serving.drop_database(env)

    from_worker = sink.received[warm_emails:end_to_end_emails]
    drained = sink.received[end_to_end_emails:]
    ids = Counter(
        match.group(1)
        for *_envelope, data in from_worker + drained
        if (match := MESSAGE_ID.search(data))
    )
    duplicates = sum(count - 1 for count in ids.values())
    per_message = smtplib_loop(from_worker, port, one_connection=False)
    # The limit is the best of three loops: one loop's rate swung by half between runs here.
    loops = [smtplib_loop(from_worker, port, one_connection=True) for _ in range(LIMIT_LOOPS)]
    one_connection = min(loops)
    controller.stop()

    worker_rate = total / worker_seconds
    drain_rate = total / drain_seconds
    limit_rate = len(from_worker) / one_connection
    print(
        f"Emails: {total} a run ({args.letters} letters x {args.recipients} recipients, after "
        f"{warm_emails} to warm up), rows by status {rows}; arrived {len(from_worker)} and "
        f"{len(drained)}, duplicates {duplicates}; worker {args.concurrency} processes; load "
        f"average {', '.join(f'{v:.1f}' for v in os.getloadavg())}"
    )
    print(
        f"confirm -> sent (letter_queue here):   {worker_rate:8.1f} emails/s  "
        f"({worker_seconds:.2f} s; queueing took {queued:.2f} s)"
    )
    print(
        f"the worker alone (due rows -> sent):   {drain_rate:8.1f} emails/s  ({drain_seconds:.2f} s)"
    )
    print(
        f"smtplib, one connection (the limit):   {limit_rate:8.1f} emails/s  ({one_connection:.2f} s; "
        f"best of {', '.join(f'{len(from_worker) / seconds:.0f}' for seconds in loops)})"
    )
    print(
        f"smtplib, a connection per email:       {len(from_worker) / per_message:8.1f} emails/s  "
        f"({per_message:.2f} s)"
    )
    for name, rate in (("confirm -> sent", worker_rate), ("the worker alone", drain_rate)):
        ratio = rate / limit_rate
        print(
            f"{name} / limit: {ratio:.3f}  target >= {TARGET_RATIO}: "
            f"{'PASS' if ratio >= TARGET_RATIO else 'FAIL'}; issue 15's >= {LATER_TARGET_RATIO}: "
            f"{'PASS' if ratio >= LATER_TARGET_RATIO else 'FAIL'}"
        )
    kinds = ("worker", "postgres", "redis", "client", "other")
    for name, used in (("confirm -> sent", cpu), ("the worker alone", drain_cpu)):
        print(
            f"CPU ms per email ({name}): "
            + ", ".join(f"{kind} {1000 * used.get(kind, 0) / total:.2f}" for kind in kinds)
        )
    print("(client: this script, queueing, polling and the sink; other: not this bench)")
    if len(from_worker) != total or len(drained) != total or duplicates:
        raise SystemExit("FAILED: an email did not arrive, or arrived twice")


def statuses() -> dict[str, int]:
    from django.db.models import Count

    from letters.models import OutgoingMail

    return dict(OutgoingMail.objects.values_list("status").annotate(Count("pk")).order_by())


if __name__ == "__main__":
    main()
