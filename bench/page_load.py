"""Campaign page throughput under gunicorn, PostgreSQL and Redis, against bare Django.

Run by hand (needs PostgreSQL, Redis and wrk):
    .venv/bin/python bench/page_load.py [--seconds 10] [--connections 10,50,100] [--workers 2xCPUs+1]

Both servers run with the same gunicorn settings in the same run; the bare Django view (one
small template, no middleware) is the ceiling. Target: at least half of its throughput.
"""

import argparse
import urllib.request

import serving  # bench/ is on sys.path when this script runs

SLUG = "say-no-to-facial-recognition"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", default="10,50,100")
    parser.add_argument("--workers", type=int, default=serving.DEFAULT_WORKERS)
    args = parser.parse_args()

    env = serving.production_env()
    serving.recreate_database(env)
    serving.manage(env, "load_demo")
    serving.manage(env, "collectstatic", "--noinput", "-v0")

    app, app_port = serving.start_gunicorn("config.wsgi:application", env, args.workers)
    bare, bare_port = serving.start_gunicorn("bench.bare_wsgi:application", env, args.workers)
    try:
        page_url = f"http://127.0.0.1:{app_port}/campaigns/{SLUG}/"
        bare_url = f"http://127.0.0.1:{bare_port}/page/"
        serving.wait_ready(page_url)
        serving.wait_ready(bare_url)
        with urllib.request.urlopen(page_url) as response:
            size = len(response.read())
        print(f"Campaign page: {size / 1024:.1f} KB of HTML; workers: {args.workers}")
        print(
            f"{'conns':>5} {'page rps':>9} {'p95 ms':>7} {'bare rps':>9} {'p95 ms':>7} {'ratio':>6}"
        )
        for connections in (int(c) for c in args.connections.split(",")):
            serving.wrk(page_url, connections, 2)  # warm up
            page = serving.wrk(page_url, connections, args.seconds)
            ceiling = serving.wrk(bare_url, connections, args.seconds)
            print(
                f"{connections:>5} {page['rps']:>9.0f} {page['p95']:>7.1f} {ceiling['rps']:>9.0f} "
                f"{ceiling['p95']:>7.1f} {page['rps'] / ceiling['rps']:>6.2f}"
                + (f"  errors={page['errors']:.0f}" if page["errors"] else "")
            )
    finally:
        serving.stop(app)
        serving.stop(bare)


if __name__ == "__main__":
    main()
