"""Signature counts and the signer export at a million letters, on PostgreSQL.

Run by hand (needs PostgreSQL; takes a few minutes):
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/council_letters \\
        .venv/bin/python bench/counts.py [--letters 1000000] [--municipalities 3000] [--keep]

It creates its own database (council_letters_bench, dropped at the end unless --keep), creates
the tables straight from the models (as the tests do: independent of the migration files),
fills them with generate_series, then times:
  - each grouping of letters.selectors.letter_counts (target: under 2 s each);
  - the signer export (letters.exporters.SignersExporter, the code the admin download and the
    command run) against PostgreSQL's own COPY (SELECT the same columns ...) TO STDOUT of the
    same rows, both written to a file (targets: within 3x of COPY, peak memory under 150 MB).
Prints the figures; nothing is asserted.
"""

import argparse
import os
import resource
import statistics
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from urllib.parse import urlparse, urlunparse

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

BENCH_DB = "council_letters_bench"
PROVINCES = ["ON", "QC", "BC", "AB", "MB", "SK", "NS", "NB", "NL", "PE", "YT", "NT", "NU"]


def bench_url(url: str, name: str = BENCH_DB) -> str:
    return urlunparse(urlparse(url)._replace(path="/" + name))


def admin_connection(url: str):
    import psycopg2

    connection = psycopg2.connect(urlunparse(urlparse(url)._replace(path="/postgres")))
    connection.autocommit = True
    return connection


def recreate_database(url: str, name: str = BENCH_DB) -> None:
    connection = admin_connection(url)
    with connection.cursor() as cursor:
        cursor.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        cursor.execute(f"CREATE DATABASE {name}")
    connection.close()


def drop_database(url: str, name: str = BENCH_DB) -> None:
    from django.db import connections

    connections.close_all()
    connection = admin_connection(url)
    with connection.cursor() as cursor:
        cursor.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    connection.close()


def create_tables() -> None:
    """Every model's table, from the models themselves (like pytest --nomigrations)."""
    from django.apps import apps
    from django.db import connection

    with connection.schema_editor() as editor:
        for model in apps.get_models():
            if model._meta.managed and not model._meta.proxy:
                editor.create_model(model)


def insert_select(model, overrides: dict[str, str], source: str) -> int:
    """INSERT INTO model's table SELECT ... FROM source, each column from overrides, else
    NULL or the field's Python default. Keeps working when others add columns to the model."""
    from django.db import connection

    columns, expressions, params = [], [], []
    for field in model._meta.concrete_fields:
        if field.primary_key and field.column not in overrides:
            continue
        columns.append(connection.ops.quote_name(field.column))
        if field.column in overrides:
            # Literal % (modulo) must not read as a parameter placeholder.
            expressions.append(overrides[field.column].replace("%", "%%"))
        elif getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
            expressions.append("now()")
        elif field.null:
            expressions.append("NULL")
        else:
            expressions.append("%s")
            params.append(field.get_db_prep_save(field.get_default(), connection))
    sql = (
        f"INSERT INTO {connection.ops.quote_name(model._meta.db_table)} "
        f"({', '.join(columns)}) SELECT {', '.join(expressions)} "
        f"FROM {source.replace('%', '%%')}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


def generate(letters: int, municipalities: int) -> object:
    from django.db import connection

    from campaigns.models import Campaign
    from councils.models import Municipality, Ward
    from letters.models import Delivery, Letter

    campaign = Campaign.objects.create(
        slug="bench",
        status=Campaign.Status.LIVE,
        title="Bench",
        letter_subjects="Please act in {municipality}",
        letter_template="Dear {recipient_name}, ...",
        target_roles=["mayor", "councillor"],
        goal=letters,
        organization_name="Bench",
        sender_email="letters@example.org",
    )
    other = Campaign.objects.create(
        slug="bench-other",
        status=Campaign.Status.LIVE,
        title="Other",
        letter_subjects="x",
        letter_template="x",
        target_roles=["mayor"],
        organization_name="Bench",
        sender_email="letters@example.org",
    )
    with connection.cursor() as cursor:
        cursor.execute("SELECT setseed(0.42)")
    provinces = "ARRAY[" + ", ".join(f"'{code}'" for code in PROVINCES) + "]"
    insert_select(
        Municipality,
        {
            "ocd_id": "'ocd-division/country:ca/csd:' || lpad(i::text, 7, '0')",
            "csd_code": "lpad(i::text, 7, '0')",
            "name": "'Town ' || i",
            # Ontario and Quebec hold most municipalities, as they do in Canada.
            "province": f"({provinces})[1 + (i * 7919 % 100) / 8]",
            "active": "true",
        },
        f"generate_series(1, {municipalities}) AS i",
    )
    # The 100 largest municipalities have 10 wards each.
    insert_select(
        Ward,
        {
            "ocd_id": "m.ocd_id || '/ward:' || w",
            "municipality_id": "m.id",
            "name": "'Ward ' || w",
            "number": "w::text",
        },
        f"(SELECT id, ocd_id FROM {Municipality._meta.db_table} ORDER BY id LIMIT 100) m, "
        "generate_series(1, 10) AS w",
    )
    municipality_table = Municipality._meta.db_table
    ward_table = Ward._meta.db_table
    # Letters: skewed toward the first (largest) municipalities, over 90 days; about 1% tests
    # and 4% never confirmed; 30% gave consent. A few names start with '=' or '-'.
    minimum_id = f"(SELECT min(id) FROM {municipality_table})"
    source = (
        f"(SELECT i, {minimum_id} + floor({municipalities} * power(random(), 3))::int AS mid, "
        "timestamptz '2026-08-01 08:00-04' + (random() * interval '90 days') AS at, "
        f"random() AS r FROM generate_series(1, {letters + letters // 20}) AS i) s"
    )
    counted_rows = insert_select(
        Letter,
        {
            "campaign_id": f"CASE WHEN i <= {letters} THEN {campaign.pk} ELSE {other.pk} END",
            "municipality_id": "mid",
            "ward_id": (
                f"(SELECT w.id FROM {ward_table} w WHERE w.municipality_id = mid "
                "ORDER BY w.id OFFSET (i % 10) LIMIT 1)"
            ),
            "status": "CASE WHEN r < 0.04 THEN 'pending' ELSE 'confirmed' END",
            "is_test": "(i % 100 = 0)",
            "token": "'t' || i",
            "confirmation_token": "'c' || i",
            "language": "CASE WHEN r > 0.8 THEN 'fr' ELSE 'en' END",
            "first_name": "CASE WHEN i % 5000 = 1 THEN '=cmd' ELSE 'First' || (i % 997) END",
            "last_name": "CASE WHEN i % 7000 = 3 THEN '-Smith' ELSE 'Last' || (i % 1009) END",
            "email": "'writer' || i || '@example.org'",
            "postal_code": "'K1A 0B' || (i % 10)",
            "consent_given": "(r > 0.7)",
            "consent_text": "CASE WHEN r > 0.7 THEN 'Keep me updated' ELSE '' END",
            "consent_language": "CASE WHEN r > 0.7 THEN 'en' ELSE '' END",
            "consent_at": "CASE WHEN r > 0.7 THEN at END",
            # Half wrote a personal part; a tenth of those nearly copied another's.
            "has_personal_part": "(r > 0.5)",
            "personal_near_duplicate": "(r > 0.95)",
            "subject": "'Please act'",
            "body": "'Dear council, ...'",
            "created_at": "at",
            "confirmed_at": "CASE WHEN r < 0.04 THEN NULL ELSE at + interval '10 minutes' END",
        },
        source,
    )
    # One to three deliveries per confirmed letter, mostly sent or delivered.
    letter_table = Letter._meta.db_table
    delivery_rows = insert_select(
        Delivery,
        {
            "letter_id": "l.id",
            "recipient_name": "'Councillor ' || n",
            "recipient_email": "'councillor' || n || '@example.org'",
            "status": (
                "(ARRAY['delivered','delivered','delivered','sent','sent','bounced','failed',"
                "'queued','complained','no_email'])[1 + (l.id + n) % 10]"
            ),
            "attempts": "1",
            "updated_at": "l.confirmed_at",
            "sent_at": "l.confirmed_at + interval '1 minute'",
        },
        f"{letter_table} l, generate_series(1, 1 + l.id % 3) AS n WHERE l.confirmed_at IS NOT NULL",
    )
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    print(f"generated: {counted_rows:,} letters, {delivery_rows:,} deliveries")
    return campaign


_client = None


def pages(campaign) -> list[tuple[str, str]]:
    from django.urls import reverse

    return [
        ("counts.json (uncached)", f"/campaigns/{campaign.slug}/counts.json"),
        ("admin counts (uncached)", reverse("admin:letters_counts", args=[campaign.pk])),
        (
            "admin by ward (uncached)",
            reverse("admin:letters_counts", args=[campaign.pk]) + "?by=ward",
        ),
    ]


def fetch_page(url: str) -> None:
    """One request through the whole Django stack; the counts cache is emptied first."""
    global _client
    from django.contrib.auth import get_user_model
    from django.core.cache import cache
    from django.test import Client

    if _client is None:
        user, _created = get_user_model().objects.get_or_create(
            username="bench", defaults={"is_staff": True, "is_superuser": True}
        )
        _client = Client(HTTP_HOST="localhost")
        _client.force_login(user)
    cache.clear()
    response = _client.get(url)
    if response.status_code != 200:
        raise RuntimeError(f"{url} answered {response.status_code}")


def timed(function, repeat: int = 3) -> tuple[float, float, object]:
    times = []
    result = None
    for _ in range(repeat):
        started = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - started)
    return min(times), statistics.median(times), result


def max_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def copy_signers(campaign, path: str) -> int:
    """PostgreSQL's own CSV of the same rows and columns: the floor for any export."""
    from django.db import connection

    sql = f"""
        COPY (
            SELECT l.first_name, l.last_name, l.email, l.postal_code, m.name, m.province,
                   l.language, CASE WHEN l.consent_given THEN 'yes' ELSE 'no' END,
                   to_char(l.consent_at AT TIME ZONE 'America/Toronto',
                           'YYYY-MM-DD"T"HH24:MI:SS'),
                   (l.created_at AT TIME ZONE 'America/Toronto')::date
            FROM letters_letter l JOIN councils_municipality m ON m.id = l.municipality_id
            WHERE l.campaign_id = {campaign.pk} AND NOT l.is_test
              AND l.confirmed_at IS NOT NULL AND l.purged_at IS NULL
            ORDER BY l.id
        ) TO STDOUT WITH (FORMAT csv, HEADER)
    """
    connection.ensure_connection()
    with open(path, "w", encoding="utf-8") as file, connection.connection.cursor() as cursor:
        cursor.copy_expert(sql, file)
    return os.path.getsize(path)


def export_signers(campaign, path: str) -> int:
    from letters.exporters import SignersExporter

    with open(path, "w", newline="", encoding="utf-8") as file:
        SignersExporter(campaign=campaign, actor="bench").write(file)
    return os.path.getsize(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--letters", type=int, default=1_000_000)
    parser.add_argument("--municipalities", type=int, default=3000)
    parser.add_argument("--keep", action="store_true", help="Keep the bench database.")
    parser.add_argument(
        "--reuse", action="store_true", help="Time again on the database a --keep run left."
    )
    args = parser.parse_args()

    base_url = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/council_letters")
    if not base_url.startswith("postgres"):
        sys.exit("DATABASE_URL must point at PostgreSQL.")
    if not args.reuse:
        recreate_database(base_url)
    os.environ["DATABASE_URL"] = bench_url(base_url)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("CELERY_TASK_ALWAYS_EAGER", "true")
    import django

    django.setup()
    from letters.models import SignerExportLog
    from letters.selectors import COUNT_GROUPINGS, delivery_health, letter_counts

    try:
        if args.reuse:
            from campaigns.models import Campaign

            campaign = Campaign.objects.get(slug="bench")
        else:
            started = time.perf_counter()
            create_tables()
            campaign = generate(args.letters, args.municipalities)
            print(f"setup: {time.perf_counter() - started:.1f} s")

        load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
        print(f"load average before timing: {load} on {os.cpu_count()} CPUs")
        print("\ngrouping        groups    best s  median s   (target < 2 s)")
        for by in COUNT_GROUPINGS:
            best, median, rows = timed(lambda by=by: letter_counts(campaign=campaign, by=by))
            print(f"{by:<14} {len(rows):>7,}  {best:>8.3f}  {median:>8.3f}")
        best, median, _ = timed(lambda: delivery_health(campaign=campaign))
        print(f"{'delivery health':<14} {'':>7}  {best:>8.3f}  {median:>8.3f}")
        print("\npage                      best s  median s")
        for name, url in pages(campaign):
            best, median, _ = timed(lambda url=url: fetch_page(url))
            print(f"{name:<24} {best:>8.3f}  {median:>8.3f}")

        with tempfile.TemporaryDirectory() as directory:
            copy_path = os.path.join(directory, "copy.csv")
            export_path = os.path.join(directory, "export.csv")
            copy_best, _, copy_size = timed(lambda: copy_signers(campaign, copy_path), 2)
            rss_before = max_rss_mb()
            export_best, _, export_size = timed(lambda: export_signers(campaign, export_path), 2)
            rss_after = max_rss_mb()
            tracemalloc.start()
            export_signers(campaign, export_path)
            _current, traced_peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            rows = SignerExportLog.objects.latest("pk").rows

        print(f"\nsigner export of {rows:,} rows")
        print(f"  COPY ... TO STDOUT     {copy_best:7.2f} s   {copy_size / 1e6:6.1f} MB file")
        print(
            f"  SignersExporter        {export_best:7.2f} s   {export_size / 1e6:6.1f} MB file"
            f"   {export_best / copy_best:.2f}x COPY (target < 3x)"
        )
        print(
            f"  peak memory: process max RSS {rss_after:.0f} MB (before the export: "
            f"{rss_before:.0f} MB); Python allocations during one export (tracemalloc) "
            f"{traced_peak / 2**20:.1f} MB   (target < 150 MB)"
        )
    finally:
        if not (args.keep or args.reuse):
            drop_database(base_url)


if __name__ == "__main__":
    main()
