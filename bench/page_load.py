"""Campaign page throughput under gunicorn, PostgreSQL and Redis, against bare Django.

Run by hand from the repository root (needs PostgreSQL, Redis and wrk; about a minute):
    .venv/bin/python bench/page_load.py [--seconds 10] [--rounds 2] [--connections 16[,50,...]]
                                        [--workers 2xCPUs+1]

It creates the scratch database council_letters_bench_web (dropped at the end) with the demo
campaign, uses Redis DB 10 as the cache (emptied), and serves the app (config.wsgi, DEBUG off,
as in production) and bench/bare_wsgi.py (one small template, no middleware: the ceiling) with
the same gunicorn settings in the same run. The campaign page is fetched as a new visitor does
(no cookies). At each number of connections, wrk runs each server --rounds times for --seconds,
alternating which goes first (a shared machine's speed drifts), after a 2 s warm-up.

Prints, for each number of connections: the page's requests/s and p95 latency, the ceiling's,
their ratio, and PASS or FAIL against the target, which is set at 16 connections:
    page rps / ceiling rps >= 0.5, and page p95 < 50 ms (and no errors)
Rates are the mean over rounds; a p95 is the worst round's.
"""

import argparse
import os
import urllib.request

import serving  # bench/ is on sys.path when this script runs

SLUG = "say-no-to-facial-recognition"
TARGET_CONNECTIONS = 16
TARGET_RATIO = 0.5
TARGET_P95_MS = 50.0


def combine(runs: list[dict[str, float]]) -> dict[str, float]:
    return {
        "rps": sum(run["rps"] for run in runs) / len(runs),
        "p95": max(run["p95"] for run in runs),
        "errors": sum(run["errors"] for run in runs),
    }


def verdict(page: dict[str, float], ceiling: dict[str, float]) -> str:
    ratio = page["rps"] / ceiling["rps"]
    passed = ratio >= TARGET_RATIO and page["p95"] < TARGET_P95_MS and not page["errors"]
    return "PASS" if passed else "FAIL"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10, help="per wrk run")
    parser.add_argument("--rounds", type=int, default=2, help="wrk runs per server and level")
    parser.add_argument(
        "--connections", default=str(TARGET_CONNECTIONS), help="comma-separated levels"
    )
    parser.add_argument("--workers", type=int, default=serving.DEFAULT_WORKERS)
    args = parser.parse_args()
    levels = [int(c) for c in args.connections.split(",")]

    env = serving.production_env()  # Redis DB 10
    results = []
    app = bare = None
    try:
        serving.flush_redis(env)
        serving.recreate_database(env)
        serving.manage(env, "load_demo")
        serving.manage(env, "collectstatic", "--noinput", "-v0")
        app, app_port = serving.start_gunicorn("config.wsgi:application", env, args.workers)
        bare, bare_port = serving.start_gunicorn("bench.bare_wsgi:application", env, args.workers)
        page_url = f"http://127.0.0.1:{app_port}/campaigns/{SLUG}/"
        bare_url = f"http://127.0.0.1:{bare_port}/page/"
        serving.wait_ready(page_url)
        serving.wait_ready(bare_url)
        with urllib.request.urlopen(page_url) as response:
            size = len(response.read())
            cookies = response.headers.get_all("Set-Cookie") or []
        load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
        print(
            f"Campaign page: {size / 1024:.1f} KB of HTML, {len(cookies)} cookies set; "
            f"gunicorn: {args.workers} sync workers each; {args.rounds} x {args.seconds} s "
            f"per server and level; load average {load} on {os.cpu_count()} CPUs"
        )
        print(
            f"{'conns':>5} {'page rps':>9} {'p95 ms':>7} {'bare rps':>9} {'p95 ms':>7} "
            f"{'ratio':>6}  verdict (ratio >= {TARGET_RATIO}, p95 < {TARGET_P95_MS:.0f} ms)"
        )
        for connections in levels:
            serving.wrk(page_url, connections, 2)  # warm up
            serving.wrk(bare_url, connections, 2)
            page_runs, bare_runs = [], []
            for round_number in range(args.rounds):
                order = [(page_url, page_runs), (bare_url, bare_runs)]
                for url, runs in order if round_number % 2 == 0 else reversed(order):
                    runs.append(serving.wrk(url, connections, args.seconds))
            page, ceiling = combine(page_runs), combine(bare_runs)
            results.append((connections, page, ceiling))
            print(
                f"{connections:>5} {page['rps']:>9.0f} {page['p95']:>7.1f} {ceiling['rps']:>9.0f} "
                f"{ceiling['p95']:>7.1f} {page['rps'] / ceiling['rps']:>6.2f}  "
                f"{verdict(page, ceiling)}"
                + (f"  errors={page['errors']:.0f}" if page["errors"] else "")
            )
    finally:
        for process in (app, bare):
            if process is not None:
                serving.stop(process)
        serving.flush_redis(env)
        serving.drop_database(env)

    at_target = [result for result in results if result[0] == TARGET_CONNECTIONS]
    if not at_target:
        print(f"Target (at {TARGET_CONNECTIONS} connections): not measured in this run")
        return
    _connections, page, ceiling = at_target[0]
    print(
        f"Target at {TARGET_CONNECTIONS} connections: page/ceiling "
        f"{page['rps'] / ceiling['rps']:.2f} (>= {TARGET_RATIO}), p95 {page['p95']:.1f} ms "
        f"(< {TARGET_P95_MS:.0f} ms), errors {page['errors']:.0f}: {verdict(page, ceiling)}"
    )


if __name__ == "__main__":
    main()
