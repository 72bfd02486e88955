"""Derive the shipped directory seed (councils/seed/README.md says what each file holds):

    .venv/bin/python councils/seed/derive.py ../shared/data

- municipalities.csv: the Open Civic Data identifiers (CC0) of every municipal council in
  Canada, with the upper tiers they belong to and their current wards, in the identifiers'
  own CSV layout (so `manage.py import_municipalities councils/seed/municipalities.csv`
  reads it). Rows are copied unchanged, only filtered: census subdivisions without a council
  of their own (councils.import_municipalities.INACTIVE_CLASSIFICATIONS) are left out, and so
  are wards that are not current on the day of the derivation.
- fsa_hints.csv: postal-code prefixes (first three characters) where a council had an
  office, from the postal codes in the 2013 Represent fixtures' office addresses. Only the
  prefix and the municipality are kept: no name, address or other part of those records.

The rules (which classifications have a council, which census divisions are upper tiers,
which ward sets are superseded) are the importer's, imported from it.
"""

import csv
import json
import os
import re
import sys
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
SEED = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django

django.setup()

from councils.import_municipalities import (
    SGC_PROVINCES,
    is_council,
    ocd_divisions,
    upper_tier_id,
    ward_end_dates,
)
from councils.selectors import province_from_postcode
from councils.sources import ocd_rows

COLUMNS = [
    "id",
    "name",
    "name_fr",
    "classification",
    "organization_name",
    "posts_count",
    "has_children",
    "parent_id",
    "number",
    "validFrom",
    "validThrough",
]
# The 2013 fixtures and the census subdivision of each one's council.
FIXTURE_COUNCILS = {
    "ca_ab_edmonton.json": "4811061",
    "ca_nb_moncton.json": "1307022",
    "ca_ns_cape_breton.json": "1217030",
    "ca_on_guelph.json": "3523008",
    "ca_on_toronto.json": "3520005",
    "ca_qc_gatineau.json": "2481017",
    "ca_qc_montreal.json": "2466023",
    "ca_qc_quebec.json": "2423027",
}
_POSTAL_CODE = re.compile(r"\b([ABCEGHJ-NPRSTVXY]\d[A-Z])\s?\d[A-Z]\d\b")


def _is_current(valid_from: str, valid_through, on: date) -> bool:
    if valid_from and date.fromisoformat(valid_from) > on:
        return False
    return valid_through is None or valid_through >= on


def derive_municipalities(ocd_folder: Path, on: date) -> dict:
    divisions = ocd_divisions(ocd_rows(str(ocd_folder)))
    csds = {ocd_id: row for ocd_id, row in divisions.csds.items() if is_council(row)}
    ends = ward_end_dates(divisions.children)
    wards = [
        (match, row)
        for match, row in divisions.children
        if _is_current((row.get("validFrom") or "").strip(), ends[match.group(0)], on)
    ]
    upper_tiers = {upper_tier_id(ocd_id, row, divisions.cds) for ocd_id, row in csds.items()}
    with_wards = {match.group(1) for match, _row in wards}
    cds = {
        ocd_id: row
        for ocd_id, row in divisions.cds.items()
        if ocd_id in upper_tiers
        or ocd_id in with_wards
        or (row.get("has_children") or "").strip() == "Y"
    }
    kept = set(csds) | set(cds)
    wards = [(match, row) for match, row in wards if match.group(1) in kept]
    # Upper tiers before the municipalities that point at them, wards last.
    rows = [
        *(cds[key] for key in sorted(cds)),
        *(csds[key] for key in sorted(csds)),
        *(row for _match, row in wards),
    ]
    with (SEED / "municipalities.csv").open("w", encoding="utf-8", newline="") as out:
        writer = csv.DictWriter(out, COLUMNS, extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({name: (row.get(name) or "").strip() for name in COLUMNS})
    return {"census divisions": len(cds), "census subdivisions": len(csds), "wards": len(wards)}


def derive_fsa_hints(fixtures_folder: Path) -> dict:
    hints = set()
    for file_name, csd_code in FIXTURE_COUNCILS.items():
        province = SGC_PROVINCES[csd_code[:2]]
        people = json.loads((fixtures_folder / file_name).read_text(encoding="utf-8"))
        for person in people:
            for office in person.get("offices") or []:
                for fsa in _POSTAL_CODE.findall((office.get("postal") or "").upper()):
                    # An office across a provincial border says nothing about this council.
                    if province_from_postcode(fsa) == province:
                        hints.add((fsa, f"ocd-division/country:ca/csd:{csd_code}"))
    with (SEED / "fsa_hints.csv").open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["fsa", "ocd_id"])
        writer.writerows(sorted(hints))
    return {"postal code prefixes": len(hints)}


def main() -> None:
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    data = Path(sys.argv[1])
    on = date.today()
    print(derive_municipalities(data / "ocd", on), f"(wards current on {on})")
    print(derive_fsa_hints(data / "fixtures" / "represent-json-2013"))


if __name__ == "__main__":
    main()
