"""Shared plumbing for the load benchmarks: a production-like environment, scratch databases,
gunicorn, a Celery worker, wrk.

Each script has a scratch PostgreSQL database and a Redis DB of its own, on the servers that
DATABASE_URL and REDIS_URL name when they are set (127.0.0.1 otherwise): those variables say
where the servers are, never which database to drop or flush.
"""

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlparse, urlunparse

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
# page_load.py and submissions.py. Not council_letters_bench: bench/counts.py drops and
# recreates that one; bench/delivery.py has council_letters_bench_delivery.
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/council_letters_bench_web"
# Redis DBs 10-12 are the benchmarks' (10 page_load, 11 delivery, 12 submissions); the tests
# and the other tools use the rest.
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/10"
BENCH_REDIS_DBS = (10, 11, 12)
# gunicorn's own advice for sync workers, as the README recommends for production.
DEFAULT_WORKERS = 2 * (os.cpu_count() or 1) + 1
# Settings a developer's shell may carry that would change what is measured.
INHERITED_PREFIXES = ("EMAIL_", "ANYMAIL_", "CELERY_", "DELIVERY_", "LETTERS_", "REPRESENT_")


def scratch_url(variable: str, default: str) -> str:
    """default's database (or Redis DB) on the server the environment variable names, if set."""
    given = os.environ.get(variable)
    if not given:
        return default
    if variable == "DATABASE_URL" and not given.startswith("postgres"):
        raise SystemExit("DATABASE_URL must point at PostgreSQL (or be unset).")
    return urlunparse(urlparse(given)._replace(path=urlparse(default).path))


def production_env(
    *, database_url: str = DEFAULT_DATABASE_URL, redis_url: str = DEFAULT_REDIS_URL, **extra: str
) -> dict[str, str]:
    """The environment of a production process (DEBUG off), on this script's scratch database
    and Redis DB. With a broker (REDIS_URL) tasks are queued, not run in the web process."""
    env = {
        key: value for key, value in os.environ.items() if not key.startswith(INHERITED_PREFIXES)
    }
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        DEBUG="false",
        SECRET_KEY="bench-" + "x" * 50,
        ALLOWED_HOSTS="127.0.0.1,localhost",
        SECURE_SSL_REDIRECT="false",
        SECURE_HSTS_SECONDS="0",
        DATABASE_URL=scratch_url("DATABASE_URL", database_url),
        REDIS_URL=scratch_url("REDIS_URL", redis_url),
        LOG_LEVEL="WARNING",
    )
    env.update(extra)
    return env


def _admin_connection(url: str):
    import psycopg2

    connection = psycopg2.connect(urlunparse(urlparse(url)._replace(path="/postgres")))
    connection.autocommit = True
    return connection


def recreate_database(env: dict[str, str]) -> None:
    """Drop and create the benchmark database, with every model's table made from the models
    themselves (like pytest --nomigrations), so the bench runs while migrations lag behind."""
    drop_database(env)
    admin = _admin_connection(env["DATABASE_URL"])
    with admin.cursor() as cursor:
        cursor.execute(f'CREATE DATABASE "{_database_name(env)}"')
    admin.close()
    manage(env, "shell", "-c", SCHEMA_FROM_MODELS)


def drop_database(env: dict[str, str]) -> None:
    admin = _admin_connection(env["DATABASE_URL"])
    with admin.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{_database_name(env)}" WITH (FORCE)')
    admin.close()


def _database_name(env: dict[str, str]) -> str:
    name = urlparse(env["DATABASE_URL"]).path.lstrip("/")
    if not name.startswith("council_letters_bench"):
        raise SystemExit(f"Refusing to drop {name!r}: not a benchmark database.")
    return name


def flush_redis(env: dict[str, str]) -> None:
    """Empty this script's Redis DB (the cache, and the broker when it shares it)."""
    import redis

    for url in {env["REDIS_URL"], env.get("CELERY_BROKER_URL", env["REDIS_URL"])}:
        if int(urlparse(url).path.lstrip("/") or 0) not in BENCH_REDIS_DBS:
            raise SystemExit(f"Refusing to flush {url}: not a benchmark Redis DB.")
        redis.Redis.from_url(url).flushdb()


SCHEMA_FROM_MODELS = """
from django.apps import apps
from django.db import connection
with connection.schema_editor() as editor:
    for model in apps.get_models():
        if model._meta.managed and not model._meta.proxy:
            editor.create_model(model)
from django.contrib.contenttypes.management import create_contenttypes
from django.contrib.auth.management import create_permissions
for config in apps.get_app_configs():
    create_contenttypes(config, verbosity=0)
    create_permissions(config, verbosity=0)
"""


def manage(env: dict[str, str], *args: str) -> None:
    subprocess.run([PYTHON, "manage.py", *args], cwd=ROOT, env=env, check=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_gunicorn(
    app: str, env: dict[str, str], workers: int, threads: int = 1
) -> tuple[subprocess.Popen, int]:
    """gunicorn with sync workers, or gthread workers when threads > 1."""
    port = free_port()
    process = subprocess.Popen(
        [
            str(Path(PYTHON).parent / "gunicorn"),
            app,
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(workers),
            "--log-level",
            "warning",
            *(["--threads", str(threads)] if threads > 1 else []),
        ],
        cwd=ROOT,
        env=env,
        start_new_session=True,
    )
    return process, port


def wait_ready(url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise SystemExit(f"{url} did not answer within {timeout} s")


def stop(process: subprocess.Popen) -> None:
    """End a process group started here: SIGTERM, then SIGKILL after 10 s."""
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(10)
    except ProcessLookupError:
        pass
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)


def start_worker(env: dict[str, str], concurrency: int, log: Path) -> subprocess.Popen:
    """`celery -A config worker` (prefork) on env's database and broker, in its own process
    group (stop() ends it with its pool); returns once it is ready to take tasks. GNU
    timeout kills it after two hours should this script die without stopping it."""
    log_file = open(log, "wb")  # noqa: SIM115 (the worker writes to it for its whole life)
    process = subprocess.Popen(
        [
            "timeout",
            "--signal=KILL",
            "7200",
            PYTHON,
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
            f"--hostname=bench-{os.getpid()}@%h",
        ],
        cwd=ROOT,
        env={**env, "PYTHONUNBUFFERED": "1"},
        stdout=log_file,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    log_file.close()
    deadline = time.monotonic() + 90
    while b" ready." not in log.read_bytes():
        if process.poll() is not None or time.monotonic() > deadline:
            stop(process)
            raise SystemExit(f"The worker did not start:\n{log.read_text()[-3000:]}")
        time.sleep(0.2)
    return process


def wrk(url: str, connections: int, seconds: int, script: str | None = None) -> dict[str, float]:
    if not shutil.which("wrk"):
        raise SystemExit("wrk is missing: apt-get install wrk")
    command = [
        "wrk",
        f"-t{min(2, connections)}",
        f"-c{connections}",
        f"-d{seconds}s",
        "--timeout",
        "10s",
        "-s",
        script or str(ROOT / "bench" / "p95.lua"),
        url,
    ]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    match = re.search(r"RESULT (.*)", output)
    if not match:
        raise SystemExit(f"wrk printed no result:\n{output}")
    return {
        key: float(value) for key, value in (pair.split("=") for pair in match.group(1).split())
    }


def cpu_seconds(groups: dict[int, str]) -> dict[int, tuple[str, float]]:
    """CPU seconds used so far by each process of this machine, with its kind: the kind
    groups gives its process group (the servers this script started: {process.pid: "app"}),
    "client" (this script, with its threads), "postgres" and "redis" (shared: other people's
    queries count too), or "other". Linux only (reads /proc)."""
    tick = os.sysconf("SC_CLK_TCK")
    processes: dict[int, tuple[str, float]] = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/stat") as stat, open(f"/proc/{pid}/cmdline", "rb") as cmd:
                # After the command name: state, ppid, pgrp, ..., utime (11), stime (12).
                fields = stat.read().rsplit(")", 1)[1].split()
                command = cmd.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if int(fields[2]) in groups:
            kind = groups[int(fields[2])]
        elif int(pid) == os.getpid():
            kind = "client"
        elif "postgres" in command:
            kind = "postgres"
        elif "redis-server" in command:
            kind = "redis"
        else:
            kind = "other"
        processes[int(pid)] = (kind, (int(fields[11]) + int(fields[12])) / tick)
    return processes


def cpu_used(
    before: dict[int, tuple[str, float]], after: dict[int, tuple[str, float]]
) -> dict[str, float]:
    """CPU seconds by kind between two cpu_seconds() readings (a process that ended in
    between is not counted; one that started, from its start)."""
    used: dict[str, float] = {}
    for pid, (kind, seconds) in after.items():
        used[kind] = used.get(kind, 0.0) + seconds - before.get(pid, (kind, 0.0))[1]
    return used
