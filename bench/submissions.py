"""Residents' letters end to end under gunicorn, PostgreSQL, Redis and a real Celery worker, and
how long each confirmation email takes to reach the resident's inbox.

Run by hand from the repository root (needs PostgreSQL and Redis; a few minutes):
    .venv/bin/python bench/submissions.py [--letters 2000] [--clients 50] [--workers 2xCPUs+1]
                                          [--threads 1] [--concurrency 2] [--drain-timeout 120]

It creates the scratch database council_letters_bench_journey (dropped at the end) with the demo
campaign, which asks residents to confirm by email, and uses Redis DB 12 (emptied) as the
cache and the Celery broker. It starts an SMTP sink in this process (aiosmtpd: the tests'
tests/letters/smtp_server.py), the app under gunicorn (config.wsgi, DEBUG off, as in
production) and `celery -A config worker` with --concurrency processes, which sends to the
sink (EMAIL_URL). No beat: every email goes out through the task queued after commit.

Each letter is one resident's real journey in one HTTP session, redirects followed as a
browser does (seven requests): the campaign page; the postal code (a GET to /council/, which
redirects to the letter step); the letter step (GET, then POST); the preview (GET); Send (POST),
which saves the letter and its deliveries and queues the confirmation email; the thank-you
page. --clients residents walk at once, each starting the next journey when one ends, until
--letters letters are sent; a warm-up of --clients journeys comes first, and is not counted.
Rate limits stay on: each resident has an address and a mailbox of their own
(X-Forwarded-For, read through LETTERS_CLIENT_IP_HEADER from the trusted 127.0.0.1); the
minimum fill time is 0.

Prints, each beside its target:
- whole journey: letters sent per second at --clients clients (target: at least 30 at 50
  clients), every letter sent saved (none lost), no 5xx;
- confirmation email: p50/p95/max from pressing Send (the POST leaving the client) to the
  email arriving in the sink, matched by recipient address (target: p95 under 5 s), and the
  same from Send's response; every letter must get exactly one confirmation. Emails still on
  their way when the load ends are waited for (--drain-timeout); any missing then is a FAIL.
  The sink shares this process with the client threads, so its arrival times err late if
  anything.
- the Send POST's own response time, and CPU milliseconds per letter by process (app, worker,
  PostgreSQL, Redis, this script's client threads and sink, and other people's processes).
Exits with 1 when a letter was lost, a response was a 5xx, or a confirmation was missing or
doubled; a rate below its target is only printed as FAIL.
"""

import argparse
import math
import os
import re
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urljoin

import requests
import serving  # bench/ is on sys.path when this script runs

sys.path.insert(0, str(serving.ROOT))
from tests.letters.smtp_server import SMTPServer  # the tests' aiosmtpd sink

SLUG = "say-no-to-facial-recognition"
POSTAL_CODES = ["M5V 2T6", "K1P 1J1", "H2X 1Y4", "T2P 1J9", "V6B 1A1", "B3H 1A1"]
TOKEN = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
RECIPIENT = re.compile(r'name="recipients" value="(\d+)"')
REDIS_URL = "redis://127.0.0.1:6379/12"  # the cache and the broker
REQUESTS_PER_JOURNEY = 7
TARGET_CLIENTS = 50
TARGET_RATE = 30.0
TARGET_P95_SECONDS = 5.0
LOCK = threading.Lock()


class JourneyFailed(Exception):
    pass


class Journey:
    """One resident, one session, from the campaign page to the thank-you page."""

    def __init__(self, base: str, n: int, email: str, statuses: Counter):
        self.base = base
        self.n = n
        self.email = email
        self.statuses = statuses
        self.session = requests.Session()
        self.session.headers["X-Forwarded-For"] = (
            f"10.{n // 65536 % 256}.{n // 256 % 256}.{n % 256}"
        )

    def _request(self, method: str, url: str, expect: int, step: str, **kwargs):
        response = self.session.request(
            method, urljoin(self.base, url), allow_redirects=False, timeout=60, **kwargs
        )
        # Production settings mark cookies Secure; this bench speaks plain HTTP on loopback.
        for cookie in self.session.cookies:
            cookie.secure = False
        with LOCK:
            self.statuses[response.status_code] += 1
        if response.status_code != expect:
            raise JourneyFailed(f"{step} answered {response.status_code}")
        return response

    def run(self) -> tuple[float, float]:
        """Walk the journey; returns when Send was pressed and when its answer came (time.time()).
        Raises JourneyFailed when a step does not answer as a resident's browser expects."""
        page = f"/campaigns/{SLUG}/"
        self._request("GET", page, 200, "campaign page")
        postal_code = POSTAL_CODES[self.n % len(POSTAL_CODES)]
        lookup = self._request(
            "GET", page + "council/", 302, "council lookup", params={"postal_code": postal_code}
        )
        write_url = lookup.headers["Location"]
        write = self._request("GET", write_url, 200, "letter step")
        token = TOKEN.search(write.text).group(1)
        headers = {"Referer": urljoin(self.base, write_url)}
        letter = self._request(
            "POST",
            write_url,
            302,
            "letter step POST",
            headers=headers,
            data={
                "csrfmiddlewaretoken": token,
                "recipients": RECIPIENT.findall(write.text),
                "first_name": "Bench",
                "last_name": f"Resident {self.n}",
                "email": self.email,
                "street_address": "",
                "send_copy": "on",
                "personal_message": "Please do not let facial recognition into our streets.",
            },
        )
        preview_url = letter.headers["Location"]
        self._request("GET", preview_url, 200, "preview")
        pressed = time.time()
        sent = self._request(
            "POST",
            preview_url,
            302,
            "Send",
            headers={"Referer": urljoin(self.base, preview_url)},
            data={"csrfmiddlewaretoken": token},
        )
        answered = time.time()
        if not sent.headers["Location"].endswith("/thanks/"):
            raise JourneyFailed(f"Send redirected to {sent.headers['Location']}")
        self._request("GET", sent.headers["Location"], 200, "thank-you page")
        return pressed, answered


def walk(base: str, n: int, email: str, statuses: Counter, failures: Counter):
    try:
        return Journey(base, n, email, statuses).run()
    except (JourneyFailed, requests.RequestException, AttributeError, KeyError) as exc:
        with LOCK:
            failures[str(exc) if isinstance(exc, JourneyFailed) else type(exc).__name__] += 1
        return None


def arrivals(sink: SMTPServer) -> dict[str, list[tuple[float, str]]]:
    """Recipient address -> (arrival time, Message-ID) of each message the sink accepted."""
    out: dict[str, list[tuple[float, str]]] = {}
    for received in list(sink.recorder.received):
        for recipient in received.rcpt_tos:
            out.setdefault(recipient.lower(), []).append((received.arrived_at, received.message_id))
    return out


def wait_for_mail(sink: SMTPServer, addresses: set[str], timeout: float) -> float:
    """Wait until every address got a message, or timeout; returns the seconds waited."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if addresses <= arrivals(sink).keys():
            break
        time.sleep(0.2)
    return time.monotonic() - started


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def spread(values: list[float]) -> str:
    if not values:
        return "no values"
    return (
        f"p50 {percentile(values, 0.5):6.2f} s  p95 {percentile(values, 0.95):6.2f} s  "
        f"max {max(values):6.2f} s"
    )


def query(env: dict, sql: str) -> list[tuple]:
    import psycopg2

    connection = psycopg2.connect(env["DATABASE_URL"])
    with connection.cursor() as cursor:
        cursor.execute(sql)
        rows = cursor.fetchall()
    connection.close()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--letters", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=TARGET_CLIENTS)
    parser.add_argument("--workers", type=int, default=serving.DEFAULT_WORKERS)
    parser.add_argument("--threads", type=int, default=1, help="gunicorn threads per worker")
    parser.add_argument("--concurrency", type=int, default=2, help="Celery worker processes")
    parser.add_argument(
        "--drain-timeout", type=float, default=120, help="seconds to wait for emails after load"
    )
    args = parser.parse_args()

    sink = SMTPServer().start()
    env = serving.production_env(
        # Not page_load.py's database, so the two can never drop each other's.
        database_url="postgres://postgres@127.0.0.1:5432/council_letters_bench_journey",
        redis_url=REDIS_URL,
        LETTERS_MIN_FILL_SECONDS="0",
        LETTERS_CLIENT_IP_HEADER="HTTP_X_FORWARDED_FOR",
        LETTERS_TRUSTED_PROXIES="127.0.0.1",
        EMAIL_URL=f"smtp://127.0.0.1:{sink.port}",
        EMAIL_TIMEOUT="10",
    )
    log = Path(tempfile.mkdtemp(prefix="bench-submissions-")) / "worker.log"
    statuses: Counter = Counter()
    failures: Counter = Counter()
    app = worker = None
    try:
        serving.flush_redis(env)
        serving.recreate_database(env)
        serving.manage(env, "load_demo")
        serving.manage(env, "collectstatic", "--noinput", "-v0")
        worker = serving.start_worker(env, args.concurrency, log)
        app, app_port = serving.start_gunicorn(
            "config.wsgi:application", env, args.workers, args.threads
        )
        base = f"http://127.0.0.1:{app_port}"
        serving.wait_ready(f"{base}/campaigns/{SLUG}/")
        with ThreadPoolExecutor(args.clients) as pool:
            # Warm the web processes, the worker and their connections outside the measurement.
            warm = [f"warmup{n}@bench.example.org" for n in range(args.clients)]
            warm_results = list(
                pool.map(
                    lambda n: walk(base, 100_000 + n, warm[n], Counter(), Counter()),
                    range(args.clients),
                )
            )
            warmed = {warm[n] for n, result in enumerate(warm_results) if result}
            wait_for_mail(sink, warmed, args.drain_timeout)

            load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
            emails = [f"resident{n}@bench.example.org" for n in range(args.letters)]
            groups = {app.pid: "app", worker.pid: "worker"}
            before = serving.cpu_seconds(groups)
            started = time.perf_counter()
            results = list(
                pool.map(
                    lambda n: walk(base, n, emails[n], statuses, failures), range(args.letters)
                )
            )
            seconds = time.perf_counter() - started
        sends = {emails[n]: result for n, result in enumerate(results) if result}
        drained = wait_for_mail(sink, set(sends), args.drain_timeout)
        time.sleep(1)  # a duplicate would come close behind
        cpu = serving.cpu_used(before, serving.cpu_seconds(groups))
        saved = query(env, "SELECT count(*) FROM letters_letter WHERE email LIKE 'resident%'")[0][0]
        mail_rows = dict(
            query(
                env,
                "SELECT m.status, count(*) FROM letters_outgoingmail m JOIN letters_letter l "
                "ON l.id = m.letter_id WHERE l.email LIKE 'resident%' GROUP BY m.status",
            )
        )
    finally:
        for process in (app, worker):
            if process is not None:
                serving.stop(process)
        sink.stop()
        serving.flush_redis(env)
        serving.drop_database(env)

    received = arrivals(sink)
    sent = len(sends)
    errors = sum(count for status, count in statuses.items() if status >= 500)
    rate = sent / seconds
    from_press, from_answer, missing, doubled, not_confirmation = [], [], 0, 0, 0
    for email, (pressed, answered) in sends.items():
        mails = received.get(email, [])
        if not mails:
            missing += 1
            continue
        doubled += len(mails) > 1
        not_confirmation += sum(1 for _at, mid in mails if not mid.startswith("<confirmation."))
        arrived = min(at for at, _mid in mails)
        from_press.append(arrived - pressed)
        from_answer.append(arrived - answered)
    strangers = sorted(
        address for address in received if address not in sends and not address.startswith("warmup")
    )
    send_times = [answered - pressed for pressed, answered in sends.values()]

    print(
        f"{args.letters} journeys ({REQUESTS_PER_JOURNEY} requests each) by {args.clients} "
        f"clients; gunicorn {args.workers} workers x {args.threads} threads; Celery worker "
        f"{args.concurrency} processes; load average before: {load} on {os.cpu_count()} CPUs"
    )
    print(
        f"Sent (thank-you page reached): {sent}; saved in the database: {saved}; "
        f"journeys failed: {sum(failures.values())} {dict(failures) or ''}"
    )
    print(f"Responses: {dict(sorted(statuses.items()))}; 5xx: {errors}")
    whole_ok = rate >= TARGET_RATE and sent == saved == args.letters and not errors
    at = "" if args.clients == TARGET_CLIENTS else f" (the target is set at {TARGET_CLIENTS})"
    print(
        f"Whole journey: {rate:.1f} letters/s at {args.clients} clients{at} over {seconds:.1f} s "
        f"(target >= {TARGET_RATE:.0f}, none lost, no 5xx): {'PASS' if whole_ok else 'FAIL'}"
    )
    print(f"Send POST response:            {spread(send_times)}")
    exactly_one = not missing and not doubled and not not_confirmation and not strangers
    print(
        f"Confirmation emails: {sent - missing} of {sent} letters got one; missing {missing}, "
        f"more than one {doubled}, other kinds {not_confirmation}, to other addresses "
        f"{len(strangers)}; rows by status {mail_rows}; waited {drained:.1f} s after the load"
    )
    mail_ok = exactly_one and from_press and percentile(from_press, 0.95) < TARGET_P95_SECONDS
    print(
        f"Send pressed -> inbox:         {spread(from_press)}   "
        f"(target p95 < {TARGET_P95_SECONDS:.0f} s, exactly one each): "
        f"{'PASS' if mail_ok else 'FAIL'}"
    )
    print(f"Send answered -> inbox:        {spread(from_answer)}")
    worker_log = log.read_text(errors="replace")
    warnings = sum(1 for line in worker_log.splitlines() if "WARNING" in line or "ERROR" in line)
    print(
        f"Worker log: {log} ({worker_log.count('Traceback')} tracebacks, {warnings} warnings "
        "or errors)"
    )
    kinds = ("app", "worker", "postgres", "redis", "client", "other")
    print(
        "CPU ms per letter (load and drain): "
        + ", ".join(f"{kind} {1000 * cpu.get(kind, 0) / max(sent, 1):.1f}" for kind in kinds)
        + "  (client: this script's threads and the sink; other: not this bench)"
    )
    if sent != args.letters or saved != sent or errors or not exactly_one:
        raise SystemExit(
            "FAILED: a letter was lost, a response was a 5xx, or a confirmation "
            "was missing or doubled"
        )


if __name__ == "__main__":
    main()
