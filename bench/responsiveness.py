"""Responsiveness at a million letters, on PostgreSQL: `export_counts --by councillor`.

Run by hand (needs PostgreSQL; takes a few minutes):
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/council_letters \\
        .venv/bin/python bench/responsiveness.py [--letters 1000000] [--municipalities 3000] \\
        [--keep | --reuse]

It creates its own database (council_letters_responsiveness_bench, dropped at the end unless
--keep), creates the tables from the models, fills them with generate_series (five
representatives per municipality, one to three deliveries per letter, mostly sent; 30% of
writers asked for the follow-up and a third of those answered it, about each recipient), then
times, best and median of three:
  - the command `manage.py export_counts --by councillor` writing its CSV (target < 2 s);
  - letters.selectors.responsiveness per council and per councillor (the staff counts page
    and the campaign page run these);
  - for reference, letter_counts per municipality (the signature counts, which also join
    every delivery sent), so a figure taken on a busy machine can be read against it.
Prints the figures beside the ceiling; nothing is asserted.
"""

import argparse
import io
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.counts import (
    bench_url,
    create_tables,
    drop_database,
    insert_select,
    recreate_database,
    timed,
)

BENCH_DB = "council_letters_responsiveness_bench"
CEILING_SECONDS = 2.0
REPS_PER_COUNCIL = 5


def generate(letters: int, municipalities: int):
    from django.db import connection

    from campaigns.models import Campaign
    from councils.models import Municipality, Representative
    from letters.models import Delivery, Letter, Reply

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
        show_responsiveness=True,
    )
    with connection.cursor() as cursor:
        cursor.execute("SELECT setseed(0.42)")
    insert_select(
        Municipality,
        {
            "ocd_id": "'ocd-division/country:ca/csd:' || lpad(i::text, 7, '0')",
            "csd_code": "lpad(i::text, 7, '0')",
            "name": "'Town ' || i",
            "province": "(ARRAY['ON','QC','BC','AB','MB','NS'])[1 + i % 6]",
            "active": "true",
        },
        f"generate_series(1, {municipalities}) AS i",
    )
    municipality_table = Municipality._meta.db_table
    # Five representatives per municipality, numbered consecutively in municipality order,
    # so a letter's n-th recipient is min(rep id) + 5 * (municipality's rank) + n.
    insert_select(
        Representative,
        {
            "municipality_id": "m.id",
            "role": "CASE WHEN k = 0 THEN 'mayor' ELSE 'councillor' END",
            "role_text": "CASE WHEN k = 0 THEN 'Mayor' ELSE 'Councillor' END",
            "name": "'Rep ' || m.id || '-' || k",
            "email": "'rep' || m.id || '-' || k || '@example.org'",
            "active": "true",
        },
        f"(SELECT id FROM {municipality_table} ORDER BY id) m, generate_series(0, "
        f"{REPS_PER_COUNCIL - 1}) AS k ORDER BY m.id, k",
    )
    minimum_id = f"(SELECT min(id) FROM {municipality_table})"
    source = (
        f"(SELECT i, {minimum_id} + floor({municipalities} * power(random(), 3))::int AS mid, "
        "timestamptz '2026-08-01 08:00-04' + (random() * interval '90 days') AS at, "
        f"random() AS r FROM generate_series(1, {letters}) AS i) s"
    )
    letter_rows = insert_select(
        Letter,
        {
            "campaign_id": str(campaign.pk),
            "municipality_id": "mid",
            "status": "CASE WHEN r < 0.04 THEN 'pending' ELSE 'confirmed' END",
            "is_test": "(i % 100 = 0)",
            "token": "'t' || i",
            "confirmation_token": "'c' || i",
            "language": "CASE WHEN r > 0.8 THEN 'fr' ELSE 'en' END",
            "first_name": "'First' || (i % 997)",
            "last_name": "'Last' || (i % 1009)",
            "email": "'writer' || i || '@example.org'",
            "postal_code": "'K1A 0B' || (i % 10)",
            "followup_consent": "(i % 10 < 3)",
            "subject": "'Please act'",
            "body": "'Dear council, ...'",
            "created_at": "at",
            "confirmed_at": "CASE WHEN r < 0.04 THEN NULL ELSE at + interval '10 minutes' END",
        },
        source,
    )
    letter_table = Letter._meta.db_table
    rep_table = Representative._meta.db_table
    delivery_rows = insert_select(
        Delivery,
        {
            "letter_id": "l.id",
            "representative_id": (
                f"(SELECT min(id) FROM {rep_table}) + {REPS_PER_COUNCIL} * "
                f"(l.municipality_id - {minimum_id}) + n - 1"
            ),
            "recipient_name": "'Councillor ' || n",
            "recipient_email": "'councillor' || n || '@example.org'",
            "status": (
                "(ARRAY['delivered','delivered','delivered','sent','sent','delivered','failed',"
                "'delivered','bounced','sent'])[1 + (l.id + n) % 10]"
            ),
            "updated_at": "l.confirmed_at",
            "sent_at": "l.confirmed_at + interval '1 minute'",
        },
        f"{letter_table} l, generate_series(1, 1 + l.id % 3) AS n WHERE l.confirmed_at IS NOT NULL",
    )
    # A third of the writers who asked answered, about every recipient their letter reached.
    delivery_table = Delivery._meta.db_table
    reply_rows = insert_select(
        Reply,
        {
            "delivery_id": "d.id",
            "campaign_id": "l.campaign_id",
            "letter_id": "l.id",
            "municipality_id": "l.municipality_id",
            "representative_id": "d.representative_id",
            "delivery_sent_at": "d.sent_at",
            "outcome": "(ARRAY['replied','no_reply','no_reply','unsatisfactory'])[1 + d.id % 4]",
            "replied_on": (
                "CASE WHEN d.id % 4 IN (0, 3) THEN (d.sent_at AT TIME ZONE 'America/Toronto')"
                "::date + (d.id % 23)::int END"
            ),
            "summary": "CASE WHEN d.id % 8 = 0 THEN 'They will vote against it.' ELSE '' END",
            "may_publish": "(d.id % 16 = 0)",
            "created_at": "d.sent_at + interval '15 days'",
            "updated_at": "d.sent_at + interval '15 days'",
        },
        f"{delivery_table} d JOIN {letter_table} l ON l.id = d.letter_id "
        "WHERE l.followup_consent AND l.id % 3 = 0 AND d.status IN ('sent', 'delivered')",
    )
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    print(
        f"generated: {letter_rows:,} letters, {delivery_rows:,} deliveries, "
        f"{reply_rows:,} replies, {municipalities * REPS_PER_COUNCIL:,} representatives"
    )
    return campaign


def export_command(campaign, path: str) -> int:
    from django.core.management import call_command

    call_command(
        "export_counts",
        "--campaign",
        campaign.slug,
        "--by",
        "councillor",
        "--output",
        path,
        stdout=io.StringIO(),
    )
    with open(path, encoding="utf-8") as file:
        return sum(1 for _line in file) - 1


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
        recreate_database(base_url, BENCH_DB)
    os.environ["DATABASE_URL"] = bench_url(base_url, BENCH_DB)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("CELERY_TASK_ALWAYS_EAGER", "true")
    import django

    django.setup()
    from campaigns.models import Campaign
    from letters.selectors import letter_counts, responsiveness

    try:
        if args.reuse:
            campaign = Campaign.objects.get(slug="bench")
        else:
            started = time.perf_counter()
            create_tables()
            campaign = generate(args.letters, args.municipalities)
            print(f"setup: {time.perf_counter() - started:.1f} s")

        load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
        print(f"load average before timing: {load} on {os.cpu_count()} CPUs\n")
        print(f"{'what':<44} {'rows':>7}  {'best s':>7}  {'median s':>8}")
        with tempfile.TemporaryDirectory() as directory:
            path = os.path.join(directory, "responsiveness.csv")
            best, median, rows = timed(lambda: export_command(campaign, path))
            print(
                f"{'export_counts --by councillor (CSV file)':<44} {rows:>7,}  {best:>7.3f}  "
                f"{median:>8.3f}   ceiling {CEILING_SECONDS:.0f} s: "
                f"{'under' if median < CEILING_SECONDS else 'OVER'}"
            )
        # The same machine's pace, for reading the figures on a busy one: the signature
        # counts per municipality (their own 2 s target) also join every delivery sent.
        best, median, result = timed(lambda: letter_counts(campaign=campaign, by="municipality"))
        label = "reference: letter_counts by municipality"
        print(f"{label:<44} {len(result):>7,}  {best:>7.3f}  {median:>8.3f}")
        for by in ("council", "councillor"):
            best, median, result = timed(lambda by=by: responsiveness(campaign=campaign, by=by))
            label = f"selectors.responsiveness by {by}"
            print(f"{label:<44} {len(result):>7,}  {best:>7.3f}  {median:>8.3f}")
    finally:
        if not (args.keep or args.reuse):
            drop_database(base_url, BENCH_DB)  # closes Django's connections first


if __name__ == "__main__":
    main()
