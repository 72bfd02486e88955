"""Letter submissions under gunicorn, PostgreSQL and Redis, against bare Django's one INSERT.

Run by hand (needs PostgreSQL and Redis):
    .venv/bin/python bench/submissions.py [--letters 2000] [--clients 50] [--workers 2xCPUs+1]

Each letter is a resident's real journey, one HTTP session each: the campaign page, the
postal code (council step), the letter step (GET, then POST), the preview (GET), then Send
(POST), which saves the letter and its deliveries and queues the confirmation email in Redis
(the campaign asks for confirmation, so no letter goes out; there is no Celery worker).

Two figures:
- send-only: every session is first brought to the preview, then all the Send POSTs are fired
  at --clients at a time; letters saved per second. Beside it the ceiling: the same number of
  POSTs, the same client, at the same concurrency, to bench/bare_wsgi.py's /insert/ (one
  INSERT per POST) under the same gunicorn settings. The two alternate in --rounds rounds
  (a shared machine's speed drifts), each after a CHECKPOINT, the ceiling on --letters POSTs
  a round; the totals are compared. Target: at least a quarter of it.
- end-to-end: letters per second for the whole journey (six requests per letter).

Every letter must be saved and no response may be a 5xx. Rate limits stay on: each simulated
resident comes from its own address (X-Forwarded-For, read through
LETTERS_CLIENT_IP_HEADER from the trusted 127.0.0.1), as on a real day; the minimum fill time
is 0.
"""

import argparse
import re
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import requests
import serving  # bench/ is on sys.path when this script runs

SLUG = "say-no-to-facial-recognition"
POSTAL_CODES = ["M5V 2T6", "K1P 1J1", "H2X 1Y4", "T2P 1J9", "V6B 1A1", "B3H 1A1"]
TOKEN = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
RECIPIENT = re.compile(r'name="recipients" value="(\d+)"')
REDIS_URL = "redis://127.0.0.1:6379/12"
LOCK = threading.Lock()
LOCAL = threading.local()


class Journey:
    """One resident, one session, brought step by step to the Send button."""

    def __init__(self, base: str, n: int, statuses: Counter):
        self.base = base
        self.n = n
        self.statuses = statuses
        self.session = requests.Session()
        self.session.headers["X-Forwarded-For"] = (
            f"10.{n // 65536 % 256}.{n // 256 % 256}.{n % 256}"
        )
        self.token = ""

    def _request(self, method: str, path: str, **kwargs) -> requests.Response:
        response = self.session.request(
            method, self.base + path, allow_redirects=False, timeout=60, **kwargs
        )
        # Production settings mark cookies Secure; this bench speaks plain HTTP on loopback.
        for cookie in self.session.cookies:
            cookie.secure = False
        with LOCK:
            self.statuses[response.status_code] += 1
        return response

    def _post(self, path: str, data: dict) -> requests.Response:
        return self._request(
            "POST",
            path,
            data={"csrfmiddlewaretoken": self.token, **data},
            headers={"Referer": self.base + path},
        )

    def prepare(self) -> bool:
        page = self._request("GET", f"/campaigns/{SLUG}/")
        self.token = TOKEN.search(page.text).group(1)
        postal_code = POSTAL_CODES[self.n % len(POSTAL_CODES)]
        step = self._post(
            f"/campaigns/{SLUG}/council/", {"postal_code": postal_code, "action": "lookup"}
        )
        if step.status_code != 302:
            return False
        write = self._request("GET", f"/campaigns/{SLUG}/write/")
        step = self._post(
            f"/campaigns/{SLUG}/write/",
            {
                "recipients": RECIPIENT.findall(write.text),
                "first_name": "Bench",
                "last_name": f"Resident {self.n}",
                "email": f"resident{self.n}@bench.example.org",
                "street_address": "",
                "send_copy": "on",
                "personal_message": "Please do not let facial recognition into our streets.",
            },
        )
        if step.status_code != 302:
            return False
        return self._request("GET", f"/campaigns/{SLUG}/preview/").status_code == 200

    def send(self) -> bool:
        response = self._post(f"/campaigns/{SLUG}/preview/", {})
        return response.status_code == 302 and response.headers["Location"].endswith("/thanks/")


def bare_insert(base: str, n: int, statuses: Counter) -> bool:
    if not hasattr(LOCAL, "session"):
        LOCAL.session = requests.Session()
    response = LOCAL.session.post(
        base + "/insert/",
        data={"email": f"resident{n}@bench.example.org", "body": "Dear council. " * 20},
        timeout=60,
    )
    with LOCK:
        statuses[response.status_code] += 1
    return response.status_code == 201


def run(pool: ThreadPoolExecutor, function, items) -> tuple[float, int]:
    started = time.perf_counter()
    results = list(pool.map(function, items))
    return time.perf_counter() - started, sum(results)


def count_rows(env: dict, sql: str) -> int:
    import psycopg2

    connection = psycopg2.connect(env["DATABASE_URL"])
    with connection.cursor() as cursor:
        cursor.execute(sql)
        value = cursor.fetchone()[0]
    connection.close()
    return value


def execute(env: dict, sql: str) -> None:
    import psycopg2

    connection = psycopg2.connect(env["DATABASE_URL"])
    connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute(sql)
    connection.close()


def flush_redis(url: str) -> None:
    import redis

    redis.Redis.from_url(url).flushdb()


def add_cpu(total: dict[str, float], used: dict[str, float]) -> None:
    for kind, seconds in used.items():
        total[kind] = total.get(kind, 0.0) + seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--letters", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--workers", type=int, default=serving.DEFAULT_WORKERS)
    parser.add_argument("--threads", type=int, default=1, help="gunicorn threads per worker")
    parser.add_argument("--rounds", type=int, default=4, help="alternating send/ceiling rounds")
    args = parser.parse_args()

    env = serving.production_env(
        REDIS_URL=REDIS_URL,
        LETTERS_MIN_FILL_SECONDS="0",
        LETTERS_CLIENT_IP_HEADER="HTTP_X_FORWARDED_FOR",
        LETTERS_TRUSTED_PROXIES="127.0.0.1",
        EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend",
    )
    flush_redis(REDIS_URL)
    serving.recreate_database(env)
    serving.manage(env, "load_demo")
    serving.manage(env, "collectstatic", "--noinput", "-v0")
    execute(
        env,
        "CREATE TABLE IF NOT EXISTS bench_bare_row (id serial PRIMARY KEY, email text, body text)",
    )

    app, app_port = serving.start_gunicorn(
        "config.wsgi:application", env, args.workers, args.threads
    )
    bare, bare_port = serving.start_gunicorn(
        "bench.bare_wsgi:application", env, args.workers, args.threads
    )
    statuses: Counter = Counter()
    bare_statuses: Counter = Counter()
    try:
        base = f"http://127.0.0.1:{app_port}"
        bare_base = f"http://127.0.0.1:{bare_port}"
        serving.wait_ready(f"{base}/campaigns/{SLUG}/")
        serving.wait_ready(f"{bare_base}/page/")
        journeys = [Journey(base, n, statuses) for n in range(args.letters)]
        with ThreadPoolExecutor(args.clients) as pool:
            # Warm both servers (connections, caches) outside the measurements.
            warm = [Journey(base, args.letters + n, Counter()) for n in range(args.clients)]
            list(pool.map(Journey.prepare, warm))
            run(pool, lambda n: bare_insert(bare_base, n, Counter()), range(args.clients))
            execute(env, "TRUNCATE bench_bare_row")
            warm_letters = count_rows(env, "SELECT count(*) FROM letters_letter")

            prepare_seconds, prepared = run(pool, Journey.prepare, journeys)
            # Sends and the ceiling in alternating rounds, so that both meet the same machine:
            # a shared machine's speed drifts by tens of percent from one minute to the next.
            rounds = []
            send_cpu: dict[str, float] = {}
            bare_cpu: dict[str, float] = {}
            size = -(-args.letters // args.rounds)
            for start in range(0, args.letters, size):
                chunk = journeys[start : start + size]
                # Each measurement starts with PostgreSQL's dirty pages written out, and the
                # ceiling is measured on as many POSTs as the whole run (a short run of the
                # fast bare view is too noisy to compare with).
                execute(env, "CHECKPOINT")
                before = serving.cpu_seconds()
                bare_seconds, inserted = run(
                    pool,
                    lambda n: bare_insert(bare_base, n, bare_statuses),
                    range(start * args.rounds, (start + len(chunk)) * args.rounds),
                )
                add_cpu(bare_cpu, serving.cpu_used(before, serving.cpu_seconds()))
                execute(env, "CHECKPOINT")
                before = serving.cpu_seconds()
                send_seconds, sent = run(pool, Journey.send, chunk)
                add_cpu(send_cpu, serving.cpu_used(before, serving.cpu_seconds()))
                rounds.append((sent, send_seconds, inserted, bare_seconds))
        saved = count_rows(env, "SELECT count(*) FROM letters_letter") - warm_letters
        bare_rows = count_rows(env, "SELECT count(*) FROM bench_bare_row")
    finally:
        serving.stop(app)
        serving.stop(bare)
        flush_redis(REDIS_URL)

    errors = sum(count for status, count in statuses.items() if status >= 500)
    sent = sum(r[0] for r in rounds)
    send_seconds = sum(r[1] for r in rounds)
    inserted = sum(r[2] for r in rounds)
    bare_seconds = sum(r[3] for r in rounds)
    send_rate, bare_rate = sent / send_seconds, inserted / bare_seconds
    journey_rate = sent / (prepare_seconds + send_seconds)
    print(
        f"{args.letters} letters, {args.clients} concurrent clients, "
        f"{args.workers} workers x {args.threads} threads, {len(rounds)} rounds"
    )
    print(f"Prepared to the preview: {prepared}; sent: {sent}; saved in the database: {saved}")
    print(f"Responses: {dict(sorted(statuses.items()))}; 5xx: {errors}")
    print(f"Bare INSERT responses: {dict(sorted(bare_statuses.items()))}; rows: {bare_rows}")
    print(f"{'':>24} {'letters/s':>10} {'seconds':>8}")
    print(f"{'send only':>24} {send_rate:>10.0f} {send_seconds:>8.1f}")
    print(f"{'bare INSERT (ceiling)':>24} {bare_rate:>10.0f} {bare_seconds:>8.1f}")
    print(
        f"{'end to end (6 requests)':>24} {journey_rate:>10.0f} {prepare_seconds + send_seconds:>8.1f}"
    )
    ratios = [(r[0] / r[1]) / (r[2] / r[3]) for r in rounds]
    print(
        "by round: "
        + ", ".join(
            f"{r[0] / r[1]:.0f}/{r[2] / r[3]:.0f} = {ratio:.2f}"
            for r, ratio in zip(rounds, ratios, strict=True)
        )
    )

    # CPU per request on this machine, by process: the server's share is what the ratio
    # would be if the client (this script, sharing the machine) cost nothing.
    def per_request(cpu: dict[str, float], count: int, server: str) -> str:
        parts = {
            "server": cpu.get(server, 0) + cpu.get("postgres", 0) + cpu.get("redis", 0),
            server: cpu.get(server, 0),
            "postgres": cpu.get("postgres", 0),
            "redis": cpu.get("redis", 0),
            "client": cpu.get("client", 0),
        }
        return ", ".join(f"{name} {1000 * value / count:.2f}" for name, value in parts.items())

    print(f"CPU ms per letter sent:  {per_request(send_cpu, sent, 'app')}")
    print(f"CPU ms per bare INSERT:  {per_request(bare_cpu, inserted, 'bare')}")
    print(
        f"send only / ceiling: {send_rate / bare_rate:.2f} (target 0.25); "
        f"rounds from {min(ratios):.2f} to {max(ratios):.2f}"
    )
    if saved != args.letters or sent != args.letters or errors:
        raise SystemExit("FAILED: not every letter was saved, or there were server errors")


if __name__ == "__main__":
    main()
