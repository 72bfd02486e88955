"""Benchmark: `make run`'s first start, from a fresh clone until the campaign page answers.

Run by hand from the repository root:
    .venv/bin/python bench/first_start.py [--checkout PATH] [--full] [--runs 3]

It clones the checkout's committed HEAD into a temporary folder (untracked files, var/ and the
database are not copied), then, by default, times what `make run` does after installing:
`migrate`, `load_demo` (the whole country's directory and the demo) and `runserver`, until
the campaign page answers. The clone uses this checkout's .venv, so nothing is installed.
--full runs `make run` itself in the clone (a new .venv, pip from its cache or the network).

Ceiling (issue 13): loading the whole country adds at most 15 s to the first start measured
before it (37 s for a full `make run` on the development machine).
"""

import argparse
import os
import resource
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SLUG = "say-no-to-facial-recognition"
BEFORE_FULL = 37.0
ALLOWED_EXTRA = 15.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(url: str, process: subprocess.Popen, timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sys.exit(f"The server stopped before answering (exit {process.returncode})")
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.1)
    sys.exit(f"No answer from {url} within {timeout:.0f} s")


def stop(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    process.wait(timeout=30)


def clone(checkout: Path, folder: Path) -> Path:
    target = folder / "clone"
    subprocess.run(["git", "clone", "--quiet", str(checkout), str(target)], check=True)
    return target


def env_without_overrides() -> dict:
    # The embedded default: no database, broker or cache from the caller's environment.
    env = dict(os.environ)
    for name in ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "DJANGO_SETTINGS_MODULE"):
        env.pop(name, None)
    return env


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def one_run(checkout: Path, python: Path, full: bool) -> dict:
    with tempfile.TemporaryDirectory(prefix="first-start-") as folder:
        work = clone(checkout, Path(folder))
        env = env_without_overrides()
        port = free_port()
        url = f"http://127.0.0.1:{port}/campaigns/{SLUG}/"
        figures = {}
        started = time.perf_counter()
        if full:
            server = subprocess.Popen(
                ["make", "run", f"PORT={port}"],
                cwd=work,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
        else:
            for step in (["migrate", "--noinput"], ["load_demo"]):
                t0, c0 = time.perf_counter(), children_cpu()
                subprocess.run(
                    [str(python), "manage.py", *step],
                    cwd=work,
                    env=env,
                    check=True,
                    stdout=subprocess.DEVNULL,
                )
                figures[step[0]] = time.perf_counter() - t0
                # CPU time is what the step costs whatever else the machine is doing.
                figures[f"{step[0]} CPU"] = children_cpu() - c0
            server = subprocess.Popen(
                [str(python), "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"],
                cwd=work,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
        try:
            t0 = time.perf_counter()
            wait_for(url, server)
            figures["runserver"] = time.perf_counter() - t0
            figures["total"] = time.perf_counter() - started
        finally:
            stop(server)
        return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkout", type=Path, default=ROOT, help="repository to clone")
    parser.add_argument("--full", action="store_true", help="run `make run` itself")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    python = ROOT / ".venv" / "bin" / "python"
    head = subprocess.run(
        ["git", "-C", str(args.checkout), "log", "-1", "--format=%h %s"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    print(f"Checkout: {args.checkout} at {head}")
    print(f"Mode: {'make run (fresh .venv)' if args.full else 'migrate + load_demo + runserver'}")
    runs = [one_run(args.checkout, python, args.full) for _ in range(args.runs)]
    for name in runs[0]:
        values = [run[name] for run in runs]
        print(
            f"  {name:<10} median {statistics.median(values):6.2f} s  "
            f"(runs: {', '.join(f'{v:.2f}' for v in values)})"
        )
    print(
        f"Ceiling: the whole country may add at most {ALLOWED_EXTRA:.0f} s to the first start "
        f"measured before issue 13 ({BEFORE_FULL:.0f} s for a full make run, "
        f"{BEFORE_FULL + ALLOWED_EXTRA:.0f} s after); compare with --checkout on a clone of "
        "the commit before."
    )


if __name__ == "__main__":
    main()
