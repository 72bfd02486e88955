"""Reads of the council directory: postal codes and the municipalities they may belong to, the
municipality picker, recipients.

services.postcode_lookup chains the postal-code reads here with Represent's answer.
"""

import csv
import functools
import re
from dataclasses import dataclass
from pathlib import Path

from django.db.models import Case, Exists, F, IntegerField, OuterRef, QuerySet, Value, When
from django.utils.translation import gettext as _
from localflavor.ca.forms import CAPostalCodeField

from .cleaning import normalise_district
from .models import (
    Municipality,
    PostcodeAnswer,
    PostcodePrefix,
    Representative,
    Role,
    Ward,
    search_key,
)

# First letter of a postal code -> province. "X" is split by the first three characters.
PROVINCE_BY_LETTER = {
    "A": "NL",
    "B": "NS",
    "C": "PE",
    "E": "NB",
    "G": "QC",
    "H": "QC",
    "J": "QC",
    "K": "ON",
    "L": "ON",
    "M": "ON",
    "N": "ON",
    "P": "ON",
    "R": "MB",
    "S": "SK",
    "T": "AB",
    "V": "BC",
    "Y": "YT",
}
PROVINCE_BY_FSA = {
    "X0A": "NU",
    "X0B": "NU",
    "X0C": "NU",
    "X0E": "NT",
    "X0G": "NT",
    "X1A": "NT",
}
ROLE_ORDER = [
    Role.MAYOR,
    Role.DEPUTY_MAYOR,
    Role.BOROUGH_MAYOR,
    Role.REGIONAL_COUNCILLOR,
    Role.COUNCILLOR,
    Role.OTHER,
]


@dataclass(frozen=True)
class Candidate:
    municipality: Municipality
    ward: Ward | None = None


# Postal-code prefixes where a council had an office (councils/seed/README.md): each names a
# municipality the prefix covers, not every one it covers.
FSA_HINTS_FILE = Path(__file__).resolve().parent / "seed" / "fsa_hints.csv"


@dataclass(frozen=True)
class LookupResult:
    postal_code: str  # normalised, e.g. "K1A 0B1"
    # Which step answered: "cache" | "represent" | "fsa" | "hint" | "province" | "none".
    step: str
    candidates: list[Candidate]  # 0, 1 or several; "province" step: empty list, province set
    province: str | None  # two-letter code when known (e.g. "NU"), else None

    @property
    def is_decided(self) -> bool:
        """One candidate from a source that lists every municipality of the code: a hint's
        prefix may cover others too, so the resident confirms it."""
        return len(self.candidates) == 1 and self.step != "hint"


# What residents type between the two halves, or around: spaces of any kind, hyphens, dashes.
_POSTCODE_SEPARATORS = re.compile(r"[\s\-\u2010-\u2015\u2212]+")


def postcode_normalise(value: str) -> str:
    """ "k1a0b1", "m5v-2t6", " m5v 2t6 " -> "K1A 0B1", "M5V 2T6"; raises ValidationError with a
    message residents understand."""
    field = CAPostalCodeField(
        error_messages={
            "invalid": _(
                "Enter a Canadian postal code such as K1A 0B1 (letter, digit, letter, "
                "digit, letter, digit)."
            ),
            "required": _("Enter your postal code."),
        }
    )
    return field.clean(_POSTCODE_SEPARATORS.sub("", value or ""))


def province_from_postcode(postal_code: str) -> str | None:
    code = postal_code.replace(" ", "").upper()
    if not code:
        return None
    return PROVINCE_BY_FSA.get(code[:3]) or PROVINCE_BY_LETTER.get(code[0])


def _candidates_from_keys(keys: list[dict]) -> list[Candidate]:
    municipalities = Municipality.objects.active().in_bulk(
        [k["municipality"] for k in keys], field_name="ocd_id"
    )
    ward_ids = [k["ward"] for k in keys if k.get("ward")]
    wards = Ward.objects.in_bulk(ward_ids, field_name="ocd_id") if ward_ids else {}
    out = []
    for key in keys:
        municipality = municipalities.get(key["municipality"])
        if municipality is not None:
            out.append(Candidate(municipality, wards.get(key.get("ward") or "")))
    return sorted(out, key=lambda c: (c.municipality.name, c.municipality.pk))


# The two queries every postal-code lookup starts with (their docstrings say why they are SQL).
_ANSWER_SQL = f"SELECT * FROM {PostcodeAnswer._meta.db_table} WHERE postal_code = %s"
_PREFIX_SQL = (
    f"SELECT m.*, p.ward_id AS prefix_ward_id FROM {PostcodePrefix._meta.db_table} p "
    f"JOIN {Municipality._meta.db_table} m ON m.id = p.municipality_id "
    "WHERE p.fsa = %s AND m.active ORDER BY m.name, m.id"
)


def postcode_answer_candidates(*, postal_code: str) -> list[Candidate]:
    """The municipalities of a fresh cached Represent answer for postal_code, else [].

    Raw SQL for speed: this query and postcode_prefix_candidates' start every lookup, and
    compiling them through the ORM cost most of it. bench/councils_lookup.py, whole directory:
    median lookup 1.20 ms with the ORM, 0.33 ms as SQL (ceiling 1 ms); the council step's CPU,
    in process, about 6.0 -> 4.6 ms. Whole rows of one model, so .raw() still gives instances.
    """
    answer = next(iter(PostcodeAnswer.objects.raw(_ANSWER_SQL, [postal_code])), None)
    if answer is None or not answer.is_fresh():
        return []
    return _candidates_from_keys(answer.candidates)


def _is_csd(boundary: dict) -> bool:
    return "/census-subdivisions/" in (boundary.get("url") or "") or search_key(
        boundary.get("boundary_set_name") or ""
    ).startswith("census subdivision")


def boundary_candidates(*, boundaries: list[dict]) -> list[tuple[Municipality, Ward | None]]:
    """The active municipalities (each with its ward, when one matches) among Represent
    boundaries: census subdivisions by code, wards by name or number."""
    codes = [str(b.get("external_id") or "") for b in boundaries if _is_csd(b)]
    municipalities = list(
        Municipality.objects.active().filter(csd_code__in=[c for c in codes if c]).order_by("name")
    )
    if not municipalities:
        return []
    others = [b for b in boundaries if not _is_csd(b)]
    wards = [w for w in Ward.objects.filter(municipality__in=municipalities) if w.is_current()]
    pairs = []
    for municipality in municipalities:
        pairs.append((municipality, _ward_for(municipality, wards, others)))
    return pairs


def _ward_for(municipality: Municipality, wards: list[Ward], boundaries: list[dict]):
    own = [w for w in wards if w.municipality_id == municipality.pk]
    city = search_key(municipality.name)
    for boundary in boundaries:
        set_name = search_key(boundary.get("boundary_set_name") or "")
        name = normalise_district(boundary.get("name") or "")
        by_name = [w for w in own if normalise_district(w.name) == name]
        if len(by_name) == 1:
            return by_name[0]
        external_id = str(boundary.get("external_id") or "")
        if city in set_name and external_id:
            by_number = [w for w in own if w.number == external_id.lstrip("0")]
            if len(by_number) == 1:
                return by_number[0]
    return None


def postcode_prefix_candidates(*, postal_code: str) -> list[Candidate]:
    """The active municipalities the organizer-loaded prefix table gives postal_code's FSA,
    by name, each with the row's ward.

    Raw SQL for speed, as in postcode_answer_candidates (bench/councils_lookup.py: the FSA
    step's median 1.18 ms with the ORM's select_related, 0.32 ms as SQL).
    """
    municipalities = list(Municipality.objects.raw(_PREFIX_SQL, [postal_code[:3]]))
    ward_ids = [m.prefix_ward_id for m in municipalities if m.prefix_ward_id]
    wards = Ward.objects.in_bulk(ward_ids) if ward_ids else {}
    return [Candidate(m, wards.get(m.prefix_ward_id)) for m in municipalities]


@functools.cache
def _fsa_hints() -> dict[str, list[str]]:
    hints: dict[str, list[str]] = {}
    with FSA_HINTS_FILE.open(encoding="utf-8", newline="") as rows:
        for row in csv.DictReader(rows):
            hints.setdefault(row["fsa"], []).append(row["ocd_id"])
    return hints


def postcode_hint_candidates(*, postal_code: str) -> list[Candidate]:
    """The active municipalities the shipped prefix hints name for postal_code's FSA."""
    ocd_ids = _fsa_hints().get(postal_code[:3])
    if not ocd_ids:
        return []
    return _candidates_from_keys([{"municipality": ocd_id} for ocd_id in ocd_ids])


def municipality_choices(
    *, province: str | None = None, query: str = "", upper_tiers: bool = True
) -> QuerySet[Municipality]:
    """Active municipalities for the picker, by name; query matches EN or FR names without
    minding accents or case ("montreal" finds Montréal). upper_tiers=False leaves out the
    councils other municipalities belong to (Peel Region): residents choose their local one."""
    qs = Municipality.objects.active()
    if not upper_tiers:
        qs = qs.exclude(Exists(Municipality.objects.filter(upper_tier=OuterRef("pk"))))
    if province:
        qs = qs.filter(province=province)
    key = search_key(query)
    if key:
        qs = qs.filter(search_name__contains=key)
    # Places of one name in census order, so the list reads the same every time.
    return qs.order_by("name", "province", "csd_code")


def recipients_for(
    *,
    municipality: Municipality,
    roles: list[str],
    ward: Ward | None = None,
    mayor_and_ward_only: bool = False,
    include_upper_tier: bool = False,
) -> list[Representative]:
    """The municipality's active representatives whose role is in roles, mayor first.

    mayor_and_ward_only: the mayor(s) plus the councillor(s) of ward; without a ward (or if that
    leaves nobody) everyone in the target roles. include_upper_tier: then the representatives
    in roles of the council the municipality belongs to (Peel Region for Mississauga), whole:
    an upper tier's seats do not follow the lower tier's wards. One query, two with the upper
    tier. Representatives with a blank or bouncing email are included: the caller offers their
    phone or contact form.
    """
    # Through the municipality's related manager, each representative comes with the
    # municipality already set (templates read it), without joining its row in.
    local = _council_members(municipality.representatives.all(), roles=roles)
    people = []
    if mayor_and_ward_only and ward is not None:
        # Picked from the whole council, in its order: one query for both cases.
        people = [rep for rep in local if rep.role == Role.MAYOR or rep.ward_id == ward.pk]
    people = people or local
    if include_upper_tier and municipality.upper_tier_id:
        upper = Representative.objects.filter(municipality_id=municipality.upper_tier_id)
        people += _council_members(upper.select_related("municipality"), roles=roles)
    return people


def _council_members(
    representatives: QuerySet[Representative], *, roles: list[str]
) -> list[Representative]:
    # Ranks for the roles asked for only: the query keeps no other role, and each WHEN costs
    # compiling on every step of the journey (the council is loaded four times per letter).
    ranked = [(rank, role) for rank, role in enumerate(ROLE_ORDER) if role in roles]
    role_rank = Case(
        *[When(role=role, then=Value(rank)) for rank, role in ranked],
        default=Value(len(ROLE_ORDER)),
        output_field=IntegerField(),
    )
    return list(
        representatives.active()
        .filter(role__in=list(roles))
        .select_related("ward")
        .annotate(role_rank=role_rank)
        .order_by("role_rank", F("ward__name").asc(nulls_first=True), "last_name", "name", "pk")
    )
