"""Import municipalities and their wards from Open Civic Data's division identifiers CSV
(country-ca.csv, or the filtered files in shared/data/ocd/)."""

import re
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from django.db import transaction

from .cleaning import one_line, ward_number_from_type_id
from .import_summary import ImportSummary
from .models import Municipality, Ward
from .sources import ocd_rows

# Statistics Canada census subdivision types that have no municipal council of their own.
# They are imported (so a Represent answer naming one is still recognised) but inactive, and
# residents are never offered them.
INACTIVE_CLASSIFICATIONS = {
    "IRI": "Indian reserve",
    "S-É": "Indian settlement",
    "SÉ": "settlement",
    "SET": "settlement",
    "SG": "self-government",
    "TC": "Cree reserved lands",
    "TI": "Inuit lands",
    "TK": "Naskapi reserved lands",
    "VC": "Cree village",
    "VK": "Naskapi village",
    "NL": "Nisga'a land",
    "TL": "Teslin land",
    "IGD": "Indian government district",
    "NO": "unorganized",
    "SNO": "unorganized subdivision",
    "RDA": "regional district electoral area",
    "LOT": "PEI township (lot)",
    "SC": "subdivision of county municipality",
    "SA": "special area (run by the province)",
    "P": "New Brunswick parish (local service district)",
}
# Census divisions imported as upper tiers (Peel Region, counties, MRCs) when a municipality
# points to them or they have wards; other census divisions are statistical and skipped.
UPPER_TIER_CLASSIFICATIONS = {"CTY", "RM", "REG", "UC", "MRC", "RD", "DM", "DIS", "TÉ", "CDR"}
# Census divisions that are the upper tier of every municipality in them, though the OCD
# identifiers name no parent: Québec's regional county municipalities (MRC, whose council
# is the mayors of its municipalities and a warden) and British Columbia's regional districts
# (RD, whose boards have directors from each member municipality).
REGIONAL_CLASSIFICATIONS = {"MRC", "RD"}

SGC_PROVINCES = {
    "10": "NL",
    "11": "PE",
    "12": "NS",
    "13": "NB",
    "24": "QC",
    "35": "ON",
    "46": "MB",
    "47": "SK",
    "48": "AB",
    "59": "BC",
    "60": "YT",
    "61": "NT",
    "62": "NU",
}

# Every municipal council in Canada, its upper tier and its current wards, as OCD identifier
# rows (councils/seed/README.md: where they come from and how they were derived).
SEED_FILE = Path(__file__).resolve().parent / "seed" / "municipalities.csv"

_CSD = re.compile(r"^ocd-division/country:ca/csd:(\d{7})$")
_CD = re.compile(r"^ocd-division/country:ca/cd:(\d{4})$")
_CHILD = re.compile(r"^(ocd-division/country:ca/(?:csd:\d{7}|cd:\d{4}))/([a-z_]+):([^/]+)$")


def _int_or_none(value: str) -> int | None:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return None


def _date_or_none(value: str) -> date | None:
    try:
        return date.fromisoformat(str(value).strip())
    except (TypeError, ValueError):
        return None


@dataclass
class OcdDivisions:
    """The rows of an OCD identifiers CSV that the directory uses, by level."""

    csds: dict[str, dict]  # census subdivisions, by OCD id
    cds: dict[str, dict]  # census divisions that are councils: upper tiers, NS counties
    children: list[tuple[re.Match, dict]]  # wards, districts, boroughs... under either


def ocd_divisions(rows: list[dict]) -> OcdDivisions:
    """Sort OCD identifier rows into census subdivisions, the census divisions that have a
    council (UPPER_TIER_CLASSIFICATIONS, when a municipality names one as its parent or sits
    in a REGIONAL_CLASSIFICATIONS division, or when the division has wards) and the divisions
    under them."""
    csds, cds, children = {}, {}, []
    for row in rows:
        ocd_id = (row.get("id") or "").strip()
        if _CSD.match(ocd_id):
            csds[ocd_id] = row
        elif _CD.match(ocd_id):
            cds[ocd_id] = row
        elif match := _CHILD.match(ocd_id):
            children.append((match, row))
    wanted = {upper_tier_id(ocd_id, row, cds) for ocd_id, row in csds.items()}
    wanted |= {match.group(1) for match, _ in children if "/cd:" in match.group(1)}
    wanted |= {ocd_id for ocd_id, row in cds.items() if _flag(row.get("has_children"))}
    cds = {
        ocd_id: row
        for ocd_id, row in sorted(cds.items())
        if ocd_id in wanted and one_line(row.get("classification")) in UPPER_TIER_CLASSIFICATIONS
    }
    return OcdDivisions(csds, cds, children)


def _flag(value) -> bool:
    return one_line(value).upper() in {"Y", "YES", "TRUE", "1"}


def upper_tier_id(ocd_id: str, row: dict, cds: dict[str, dict]) -> str:
    """The OCD id of a census subdivision's upper tier: the parent its row names (Mississauga:
    Peel), else its census division when that is a REGIONAL_CLASSIFICATIONS one (a Québec MRC,
    a BC regional district); "" when it has none."""
    parent = one_line(row.get("parent_id"))
    if parent:
        return parent
    match = _CSD.match(ocd_id)
    division = f"ocd-division/country:ca/cd:{match.group(1)[:4]}" if match else ""
    if one_line(cds.get(division, {}).get("classification")) in REGIONAL_CLASSIFICATIONS:
        return division
    return ""


def is_council(row: dict) -> bool:
    """False for census subdivisions without a municipal council of their own."""
    return one_line(row.get("classification")) not in INACTIVE_CLASSIFICATIONS


def ward_end_dates(children: list[tuple[re.Match, dict]]) -> dict[str, date | None]:
    """Each child division's last valid day: its validThrough, or, for a set with a year
    suffix superseded by a newer one, the day before the newer set's year.

    Toronto lists its 2010 and 2018 wards with no end date: the exact end date is not in the
    data, so the day before the newer set's year stands in for it.
    """
    newest_year: dict[str, int] = {}
    for match, _row in children:
        if year := re.search(r"-(\d{4})$", match.group(3)):
            parent = match.group(1)
            newest_year[parent] = max(newest_year.get(parent, 0), int(year.group(1)))
    ends = {}
    for match, row in children:
        parent_id, _kind, type_id = match.groups()
        valid_through = _date_or_none(row.get("validThrough", ""))
        year = re.search(r"-(\d{4})$", type_id)
        if not valid_through and year and int(year.group(1)) < newest_year.get(parent_id, 0):
            valid_through = date(newest_year[parent_id], 1, 1) - timedelta(days=1)
        ends[match.group(0)] = valid_through
    return ends


@transaction.atomic
def municipalities_import(
    *, path_or_url: str, create_only: bool = False
) -> tuple[ImportSummary, ImportSummary]:
    """Create or update municipalities (census subdivisions, plus the census divisions that
    are upper tiers) and their wards from the OCD identifiers CSV.

    Non-council classifications (INACTIVE_CLASSIFICATIONS) and divisions whose validThrough
    has passed (dissolved by amalgamation) are created inactive. On update the active flag is
    left alone, so an organizer's choice survives a re-import. create_only: rows already in
    the directory are left exactly as they are (the embedded default's seed must not undo an
    organizer's edits on every start).
    """
    divisions = ocd_divisions(ocd_rows(path_or_url))
    csds, cds, children = divisions.csds, divisions.cds, divisions.children
    if create_only and _nothing_missing(divisions):
        # The embedded default's every start: a few ids compared instead of every row.
        return (
            ImportSummary(label="municipalities", unchanged=len(csds) + len(cds)),
            ImportSummary(label="wards", unchanged=len(children)),
        )

    municipalities = ImportSummary(label="municipalities")
    existing = {m.ocd_id: m for m in Municipality.objects.all()}

    def upsert(ocd_id: str, code: str, row: dict, upper_tier_pk: int | None):
        current = existing.get(ocd_id)
        if current is not None and create_only:
            municipalities.unchanged += 1
            return
        values = {
            "csd_code": code if len(code) == 7 else "",
            "name": one_line(row.get("name")),
            "name_fr": one_line(row.get("name_fr")) or one_line(row.get("name")),
            "province": SGC_PROVINCES.get(code[:2], ""),
            "classification": one_line(row.get("classification"))[:10],
            "organization_name": one_line(row.get("organization_name")),
            "council_size": _int_or_none(row.get("posts_count", "")),
            "upper_tier_id": upper_tier_pk,
        }
        if not values["province"] or not values["name"]:
            municipalities.skipped.append((0, f"{ocd_id}: no name or unknown province code"))
            return
        if current is None:
            ended = _date_or_none(row.get("validThrough", ""))
            municipality = Municipality(
                ocd_id=ocd_id,
                active=values["classification"] not in INACTIVE_CLASSIFICATIONS
                and not (ended and ended < date.today()),
                **values,
            )
            municipality.search_name = municipality.build_search_name()
            to_create.append(municipality)
            existing[ocd_id] = municipality
            municipalities.created += 1
            return
        changed = [name for name, value in values.items() if getattr(current, name) != value]
        if changed:
            for name in changed:
                setattr(current, name, values[name])
            current.search_name = current.build_search_name()
            to_update.append(current)
            municipalities.updated += 1
        else:
            municipalities.unchanged += 1

    update_fields = [
        "csd_code",
        "name",
        "name_fr",
        "province",
        "classification",
        "organization_name",
        "council_size",
        "upper_tier",
        "search_name",
    ]
    # Upper tiers first, so the lower tiers can point at them.
    to_create, to_update = [], []
    for ocd_id, row in cds.items():
        upsert(ocd_id, _CD.match(ocd_id).group(1), row, None)
    Municipality.objects.bulk_create(to_create, batch_size=500)
    Municipality.objects.bulk_update(to_update, update_fields, batch_size=500)

    to_create, to_update = [], []
    for ocd_id, row in csds.items():
        parent = existing.get(upper_tier_id(ocd_id, row, cds))
        upsert(ocd_id, _CSD.match(ocd_id).group(1), row, parent.pk if parent else None)
    Municipality.objects.bulk_create(to_create, batch_size=500)
    Municipality.objects.bulk_update(to_update, update_fields, batch_size=500)

    inactive = sum(1 for row in csds.values() if not is_council(row))
    if inactive:
        municipalities.notes.append(
            f"{inactive} census subdivisions are not councils (reserves, unorganized areas...) "
            "and are kept inactive"
        )
    wards = _wards_import(children=children, municipalities=existing, create_only=create_only)
    return municipalities, wards


def _nothing_missing(divisions: OcdDivisions) -> bool:
    known = set(Municipality.objects.values_list("ocd_id", flat=True))
    if not (set(divisions.csds) | set(divisions.cds)) <= known:
        return False
    known_wards = set(Ward.objects.values_list("ocd_id", flat=True))
    return {match.group(0) for match, _row in divisions.children} <= known_wards


def municipalities_seed_load(*, path: Path = SEED_FILE) -> tuple[ImportSummary, ImportSummary]:
    """Add the shipped directory's municipalities, upper tiers and wards that are not in the
    directory yet; leave the others exactly as they are. Fast when nothing is missing."""
    return municipalities_import(path_or_url=str(path), create_only=True)


def _wards_import(
    *, children, municipalities: dict[str, Municipality], create_only: bool
) -> ImportSummary:
    summary = ImportSummary(label="wards")
    existing = {w.ocd_id: w for w in Ward.objects.all()}
    ends = ward_end_dates(children)
    to_create, to_update = [], []
    fields = ["municipality", "name", "number", "kind", "valid_from", "valid_through"]
    for match, row in children:
        parent_id, kind, type_id = match.groups()
        municipality = municipalities.get(parent_id)
        if municipality is None or municipality.pk is None:
            continue
        ocd_id = match.group(0)
        values = {
            "municipality": municipality,
            "name": one_line(row.get("name")) or type_id,
            "number": (one_line(row.get("number")) or ward_number_from_type_id(type_id))[:20],
            "kind": kind[:20],
            "valid_from": _date_or_none(row.get("validFrom", "")),
            "valid_through": ends[ocd_id],
        }
        current = existing.get(ocd_id)
        if current is not None and create_only:
            summary.unchanged += 1
            continue
        if current is None:
            ward = Ward(ocd_id=ocd_id, **values)
            to_create.append(ward)
            existing[ocd_id] = ward
            summary.created += 1
            continue
        values["municipality"] = municipality.pk
        current_values = {
            name: current.municipality_id if name == "municipality" else getattr(current, name)
            for name in values
        }
        if current_values != values:
            for name, value in values.items():
                if name == "municipality":
                    current.municipality_id = value
                else:
                    setattr(current, name, value)
            to_update.append(current)
            summary.updated += 1
        else:
            summary.unchanged += 1
    Ward.objects.bulk_create(to_create, batch_size=500)
    Ward.objects.bulk_update(to_update, fields, batch_size=500)
    return summary
