"""Benchmark: load the whole country's directory as `make run` does (the shipped seed and the
demo), then time 1,000 postal-code lookups against it.

Run by hand from the repository root:  .venv/bin/python bench/councils_lookup.py
It uses a throwaway SQLite file unless DATABASE_URL is set (then that database is used: point
it at a scratch database, the directory tables are filled). It needs ../shared/data for the
2013 representatives and the upstream-layout import timing.
Nothing reaches the network: the Represent step is timed against a recorded answer.

Ceiling (issue 13): a local lookup (cache, prefix table, hints, province) takes under 1 ms
median with the full directory.
"""

import io
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
if not os.environ.get("DATABASE_URL"):
    scratch = Path(tempfile.mkdtemp(prefix="councils-bench-")) / "bench.sqlite3"
    os.environ["DATABASE_URL"] = f"sqlite:///{scratch}"

import django

django.setup()

from django.conf import settings
from django.core.management import call_command
from django.db import connection, reset_queries

from councils.demo_data import demo_data_load
from councils.import_municipalities import municipalities_import, municipalities_seed_load
from councils.models import (
    Municipality,
    PostcodeAnswer,
    PostcodePrefix,
    Representative,
    Role,
    Ward,
)
from councils.selectors import PROVINCE_BY_LETTER, _fsa_hints, recipients_for
from councils.services import postcode_lookup
from letters.pages import municipality_picker

DATA = ROOT.parent / "shared" / "data"
LOOKUPS = 1000
LETTERS = "ABCEGHJKLMNPRSTVWXYZ"
CEILING_MS = 1.0


def timed(label, func, *args, **kwargs):
    started = time.perf_counter()
    result = func(*args, **kwargs)
    print(f"{label}: {time.perf_counter() - started:.2f} s")
    return result


def random_code(rng, first):
    return f"{first}{rng.randint(0, 9)}{rng.choice(LETTERS)} {rng.randint(0, 9)}{rng.choice(LETTERS)}{rng.randint(0, 9)}"


def summarise(label, samples, queries):
    if not samples:
        return
    ms = sorted(s * 1000 for s in samples)
    p95 = ms[int(len(ms) * 0.95) - 1]
    print(
        f"  {label:<10} n={len(ms):4d}  mean {statistics.mean(ms):6.2f} ms  "
        f"p50 {statistics.median(ms):6.2f} ms  p95 {p95:6.2f} ms  max {ms[-1]:6.2f} ms  "
        f"queries/lookup {statistics.mean(queries):.1f}"
    )


def main():
    if not (DATA / "ocd" / "ca_census_subdivisions.csv").exists():
        sys.exit(f"The shared data is not at {DATA}")
    print(
        f"Database: {settings.DATABASES['default']['ENGINE']} {settings.DATABASES['default']['NAME']}"
    )
    call_command("migrate", verbosity=0)

    municipalities, wards = timed(
        "municipalities_seed_load (make run's first start)", municipalities_seed_load
    )
    print("  " + municipalities.headline())
    print("  " + wards.headline())
    again, _ = timed("municipalities_seed_load (every later start)", municipalities_seed_load)
    print("  " + again.headline())
    timed("demo_data_load", demo_data_load)
    upstream, _ = timed(
        "import_municipalities from shared/data/ocd (adds reserves etc., inactive)",
        municipalities_import,
        path_or_url=str(DATA / "ocd"),
    )
    print("  " + upstream.headline())

    folder = DATA / "fixtures" / "represent-json-2013"
    codes = {
        "ca_ab_edmonton.json": "4811061",
        "ca_nb_moncton.json": "1307022",
        "ca_ns_cape_breton.json": "1217030",
        "ca_on_guelph.json": "3523008",
        "ca_on_toronto.json": "3520005",
        "ca_qc_gatineau.json": "2481017",
        "ca_qc_montreal.json": "2466023",
        "ca_qc_quebec.json": "2423027",
    }
    started = time.perf_counter()
    for name, code in codes.items():
        ocd_id = Municipality.objects.get(csd_code=code).ocd_id
        call_command(
            "import_representatives",
            str(folder / name),
            municipality=ocd_id,
            stdout=io.StringIO(),
        )
    print(
        f"import_representatives, 8 files of 2013 Represent JSON "
        f"({Representative.objects.count()} people): {time.perf_counter() - started:.2f} s"
    )

    # A first-three-characters table: every FSA of the first letter maps to one or two active
    # municipalities of its province (synthetic: the real table is the organizers' to load).
    rng = random.Random(20261121)
    by_province = {}
    for m in Municipality.objects.active().only("id", "province"):
        by_province.setdefault(m.province, []).append(m)
    prefixes = []
    fsas = []
    for letter, province in PROVINCE_BY_LETTER.items():
        for digit in range(10):
            for third in LETTERS[:12]:
                fsa = f"{letter}{digit}{third}"
                fsas.append(fsa)
                for m in rng.sample(by_province[province], k=1 + (rng.random() < 0.15)):
                    prefixes.append(PostcodePrefix(fsa=fsa, municipality=m))
    PostcodePrefix.objects.bulk_create(prefixes, ignore_conflicts=True)
    print(f"FSA table: {PostcodePrefix.objects.count()} rows over {len(fsas)} prefixes")

    # 1,000 codes: 20% answered by the cache, 40% by the FSA table, 10% by the shipped hints,
    # 30% by the province only.
    hinted = sorted(set(_fsa_hints()) - {p.fsa for p in PostcodePrefix.objects.all()})
    toronto = Municipality.objects.get(csd_code="3520005")
    toronto_ward = next(w for w in Ward.objects.filter(municipality=toronto) if w.is_current())
    sample = []
    for i in range(LOOKUPS):
        roll = i % 10
        if roll < 2:
            code = random_code(rng, "M")
            PostcodeAnswer.objects.update_or_create(
                postal_code=code,
                defaults={
                    "candidates": [{"municipality": toronto.ocd_id, "ward": toronto_ward.ocd_id}]
                },
            )
        elif roll < 6:
            fsa = rng.choice(fsas)
            code = f"{fsa} {rng.randint(0, 9)}{rng.choice(LETTERS)}{rng.randint(0, 9)}"
        elif roll < 7:
            code = (
                f"{rng.choice(hinted)} {rng.randint(0, 9)}{rng.choice(LETTERS)}{rng.randint(0, 9)}"
            )
        else:
            first = rng.choice("ABCEGHJKLMNPRSTVY")
            code = f"{first}{rng.randint(0, 9)}{rng.choice(LETTERS[12:])} 1A1"
        sample.append(code)
    rng.shuffle(sample)

    # A first pass counts the queries (DEBUG logs them); the timed pass runs without logging.
    settings.DEBUG = True
    queries = {}
    for code in sample:
        reset_queries()
        result = postcode_lookup(postal_code=code)
        queries.setdefault(result.step, []).append(len(connection.queries))
    settings.DEBUG = False
    steps = {}
    started = time.perf_counter()
    for code in sample:
        t0, c0 = time.perf_counter(), time.process_time()
        result = postcode_lookup(postal_code=code)
        wall, cpu = steps.setdefault(result.step, ([], []))
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    total = time.perf_counter() - started
    print(f"{LOOKUPS} postal-code lookups (Represent off): {total:.2f} s, {LOOKUPS / total:.0f}/s")
    for step, (wall, cpu) in sorted(steps.items()):
        summarise(step, wall, queries[step])
        print(f"  {'':<10} CPU time of this process: p50 {statistics.median(cpu) * 1000:6.3f} ms")
    for label, index in (("wall clock", 0), ("CPU time", 1)):
        every = [sample for pair in steps.values() for sample in pair[index]]
        median = statistics.median(every) * 1000
        print(
            f"  median of all {len(every)}, {label}: {median:.3f} ms  (ceiling "
            f"{CEILING_MS:.0f} ms: {'PASS' if median < CEILING_MS else 'FAIL'})"
        )
    print(f"  load average while measuring: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")

    # The picker's longest list: every municipality of Québec, labelled, in a select.
    draft = {"postal_code": "G0A 1A0", "province": "QC", "candidates": []}
    t0 = time.perf_counter()
    picker = municipality_picker(draft)
    options = len(picker.form.fields["municipality"].choices[1][1])
    print(
        f"The picker for Québec ({options} municipalities): "
        f"{(time.perf_counter() - t0) * 1000:.1f} ms"
    )

    # The Represent step, against a recorded answer (no network, no throttle): our overhead.
    import json
    from unittest import mock

    recorded = json.loads(
        (ROOT / "tests" / "councils" / "fixtures" / "represent_postcode_M5V3L9.json").read_text()
    )
    response = mock.Mock(status_code=200, headers={})
    response.json.return_value = recorded
    settings.REPRESENT_LOOKUP_ENABLED = True
    settings.REPRESENT_MIN_INTERVAL = 0
    samples, queries = [], []
    with mock.patch("councils.represent.requests.get", return_value=response):
        for i in range(100):
            code = f"M5V {i % 10}A{i // 10}"
            reset_queries()
            t0 = time.perf_counter()
            result = postcode_lookup(postal_code=code)
            samples.append(time.perf_counter() - t0)
            queries.append(len(connection.queries))
            assert result.step == "represent", result
    print("100 lookups through a stubbed Represent (answer parsed, matched and cached):")
    summarise("represent", samples, queries)

    montreal = Municipality.objects.get(csd_code="2466023")
    reset_queries()
    t0 = time.perf_counter()
    people = recipients_for(municipality=montreal, roles=[r.value for r in Role])
    print(
        f"recipients_for(Montréal, all roles): {len(people)} people, "
        f"{len(connection.queries)} query, {(time.perf_counter() - t0) * 1000:.1f} ms"
    )


if __name__ == "__main__":
    main()
