"""Shared plumbing for the load benchmarks: a production-like environment, gunicorn, wrk."""

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

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
# Not council_letters_bench: bench/counts.py drops and recreates that one.
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/council_letters_bench_web"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/13"
# gunicorn's own advice for sync workers, as the README recommends for production.
DEFAULT_WORKERS = 2 * (os.cpu_count() or 1) + 1


def production_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DEBUG="false",
        SECRET_KEY="bench-" + "x" * 50,
        ALLOWED_HOSTS="127.0.0.1,localhost",
        SECURE_SSL_REDIRECT="false",
        SECURE_HSTS_SECONDS="0",
        DATABASE_URL=os.environ.get("DATABASE_URL", DEFAULT_DATABASE_URL),
        REDIS_URL=os.environ.get("REDIS_URL", DEFAULT_REDIS_URL),
        LOG_LEVEL="WARNING",
    )
    env.update(extra)
    return env


def ensure_database(url: str) -> None:
    """Create the benchmark database if it does not exist."""
    import psycopg2

    name = url.rsplit("/", 1)[1]
    admin = psycopg2.connect(url.rsplit("/", 1)[0] + "/postgres")
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
        if not cursor.fetchone():
            cursor.execute(f'CREATE DATABASE "{name}"')
    admin.close()


def recreate_database(env: dict[str, str]) -> None:
    """Drop and create the benchmark database, with every model's table made from the models
    themselves (like pytest --nomigrations), so the bench runs while migrations lag behind."""
    import psycopg2

    url = env["DATABASE_URL"]
    name = url.rsplit("/", 1)[1]
    admin = psycopg2.connect(url.rsplit("/", 1)[0] + "/postgres")
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        cursor.execute(f'CREATE DATABASE "{name}"')
    admin.close()
    manage(env, "shell", "-c", SCHEMA_FROM_MODELS)


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
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(10)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        os.killpg(process.pid, signal.SIGKILL)


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


def cpu_seconds() -> dict[int, tuple[str, float]]:
    """CPU seconds used so far by each process of this machine, with its kind: "app" and
    "bare" (the gunicorn process groups, told apart by their application), "postgres",
    "redis", "client" (this script) and "other". Linux only (reads /proc)."""
    tick = os.sysconf("SC_CLK_TCK")
    processes: dict[int, tuple[str, float]] = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/stat") as stat, open(f"/proc/{pid}/cmdline", "rb") as cmd:
                fields = stat.read().rsplit(")", 1)[1].split()
                command = cmd.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if "gunicorn" in command:
            kind = "bare" if "bare_wsgi" in command else "app"
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
