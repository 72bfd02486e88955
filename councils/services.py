"""Writes to the council directory: imports, the demo data, the postal-code answer cache."""

import json
import logging
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from itertools import islice
from pathlib import Path
from urllib.parse import urljoin

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import gettext as _

from . import represent
from .cleaning import (
    clean_email,
    clean_person_name,
    clean_phone,
    district_parts,
    email_kind,
    fix_text,
    is_at_large,
    is_vacant,
    is_whole_municipality,
    normalise_district,
    one_line,
    role_from_text,
    split_name,
    strip_city_prefix,
    ward_number_from_type_id,
)
from .models import (
    DirectoryImport,
    Municipality,
    PostcodeAnswer,
    PostcodePrefix,
    Representative,
    Role,
    Ward,
    search_key,
)
from .sources import (
    RawRepresentative,
    SourceError,
    csv_rows,
    decode,
    is_url,
    load_json,
    looks_like_json,
    next_page_url,
    ocd_rows,
    read_bytes,
    representatives_from_csv,
    representatives_from_json,
    representatives_from_text,
)

logger = logging.getLogger(__name__)

# Rows a directory import job writes per transaction, with its progress.
DIRECTORY_IMPORT_BATCH_ROWS = 500

DEMO_FILE = Path(__file__).resolve().parent / "seed" / "demo.json"

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

_CSD = re.compile(r"^ocd-division/country:ca/csd:(\d{7})$")
_CD = re.compile(r"^ocd-division/country:ca/cd:(\d{4})$")
_CHILD = re.compile(r"^(ocd-division/country:ca/(?:csd:\d{7}|cd:\d{4}))/([a-z_]+):([^/]+)$")


@dataclass
class ImportSummary:
    """What an import did, for the command's output and the admin's result page."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    deactivated: int = 0
    skipped: list[tuple[int, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    label: str = "representatives"

    @property
    def skipped_count(self) -> int:
        return len(self.skipped)

    @property
    def changed(self) -> bool:
        return bool(self.created or self.updated or self.deactivated)

    def headline(self) -> str:
        text = (
            f"{self.label.capitalize()}: {self.created} created, {self.updated} updated, "
            f"{self.unchanged} unchanged, {self.deactivated} deactivated, "
            f"{len(self.skipped)} skipped"
        )
        if not self.changed:
            text += " (nothing changed)"
        return text

    def lines(self) -> list[str]:
        out = [self.headline()]
        out += [f"  skipped line {line}: {reason}" for line, reason in self.skipped]
        out += [f"  note: {note}" for note in self.notes]
        return out


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


# --- Municipalities and wards from OCD identifiers ---------------------------------------------


@transaction.atomic
def municipalities_import(*, path_or_url: str) -> tuple[ImportSummary, ImportSummary]:
    """Create or update municipalities (census subdivisions, plus the census divisions that
    are upper tiers) and their wards from the OCD identifiers CSV.

    Non-council classifications (INACTIVE_CLASSIFICATIONS) and divisions whose validThrough
    has passed (dissolved by amalgamation) are created inactive. On update the active flag is
    left alone, so an organizer's choice survives a re-import.
    """
    rows = ocd_rows(path_or_url)
    csds, cds, children = {}, {}, []
    for row in rows:
        ocd_id = (row.get("id") or "").strip()
        if _CSD.match(ocd_id):
            csds[ocd_id] = row
        elif _CD.match(ocd_id):
            cds[ocd_id] = row
        elif match := _CHILD.match(ocd_id):
            children.append((match, row))
    wanted_cds = {row.get("parent_id", "").strip() for row in csds.values()}
    wanted_cds |= {match.group(1) for match, _ in children if "/cd:" in match.group(1)}

    municipalities = ImportSummary(label="municipalities")
    existing = {m.ocd_id: m for m in Municipality.objects.all()}

    def upsert(ocd_id: str, code: str, row: dict, upper_tier_id: int | None):
        values = {
            "csd_code": code if len(code) == 7 else "",
            "name": one_line(row.get("name")),
            "name_fr": one_line(row.get("name_fr")) or one_line(row.get("name")),
            "province": SGC_PROVINCES.get(code[:2], ""),
            "classification": one_line(row.get("classification"))[:10],
            "organization_name": one_line(row.get("organization_name")),
            "council_size": _int_or_none(row.get("posts_count", "")),
            "upper_tier_id": upper_tier_id,
        }
        if not values["province"] or not values["name"]:
            municipalities.skipped.append((0, f"{ocd_id}: no name or unknown province code"))
            return
        current = existing.get(ocd_id)
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
    for ocd_id in sorted(wanted_cds & set(cds)):
        row = cds[ocd_id]
        if (row.get("classification") or "").strip() in UPPER_TIER_CLASSIFICATIONS:
            upsert(ocd_id, _CD.match(ocd_id).group(1), row, None)
    Municipality.objects.bulk_create(to_create, batch_size=500)
    Municipality.objects.bulk_update(to_update, update_fields, batch_size=500)

    to_create, to_update = [], []
    for ocd_id, row in csds.items():
        parent = existing.get((row.get("parent_id") or "").strip())
        upsert(ocd_id, _CSD.match(ocd_id).group(1), row, parent.pk if parent else None)
    Municipality.objects.bulk_create(to_create, batch_size=500)
    Municipality.objects.bulk_update(to_update, update_fields, batch_size=500)

    inactive = sum(
        1 for row in csds.values() if (row.get("classification") or "") in INACTIVE_CLASSIFICATIONS
    )
    municipalities.notes.append(
        f"{inactive} census subdivisions are not councils (reserves, unorganized areas...) "
        "and are kept inactive"
    )
    wards = _wards_import(children=children, municipalities=existing)
    return municipalities, wards


def _wards_import(*, children, municipalities: dict[str, Municipality]) -> ImportSummary:
    summary = ImportSummary(label="wards")
    existing = {w.ocd_id: w for w in Ward.objects.all()}
    # Toronto lists its 2010 and 2018 wards with no end date: a set with a newer year suffix
    # supersedes the older one. The exact end date is not in the data; the day before the newer
    # set's year stands in for it.
    newest_year: dict[str, int] = {}
    for match, _row in children:
        if year := re.search(r"-(\d{4})$", match.group(3)):
            parent = match.group(1)
            newest_year[parent] = max(newest_year.get(parent, 0), int(year.group(1)))
    to_create, to_update = [], []
    fields = ["municipality", "name", "number", "kind", "valid_from", "valid_through"]
    for match, row in children:
        parent_id, kind, type_id = match.groups()
        municipality = municipalities.get(parent_id)
        if municipality is None or municipality.pk is None:
            continue
        ocd_id = match.group(0)
        valid_through = _date_or_none(row.get("validThrough", ""))
        year = re.search(r"-(\d{4})$", type_id)
        if not valid_through and year and int(year.group(1)) < newest_year.get(parent_id, 0):
            valid_through = date(newest_year[parent_id], 1, 1) - timedelta(days=1)
        values = {
            "municipality": municipality,
            "name": one_line(row.get("name")) or type_id,
            "number": (one_line(row.get("number")) or ward_number_from_type_id(type_id))[:20],
            "kind": kind[:20],
            "valid_from": _date_or_none(row.get("validFrom", "")),
            "valid_through": valid_through,
        }
        current = existing.get(ocd_id)
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


# --- Representatives --------------------------------------------------------------------------


class WardMatcher:
    """Find a municipality's ward from a published district label, by normalised name first
    and number second; current wards win over superseded ones."""

    def __init__(self, wards: list[Ward]):
        self.wards = [(ward, *district_parts(ward.name), ward.is_current()) for ward in wards]
        self.by_ocd_id = {ward.ocd_id: ward for ward in wards}

    def match(self, district: str) -> Ward | None:
        if not district or not self.wards:
            return None
        if district.startswith("ocd-division/"):
            return self.by_ocd_id.get(district.strip())
        number, name = district_parts(district)
        full = normalise_district(district)
        scored = []
        for ward, ward_number, ward_name, current in self.wards:
            ward_number = ward.number or ward_number
            same_name = bool(name and ward_name and name == ward_name) or (
                full == normalise_district(ward.name)
            )
            same_number = bool(number and number == ward_number)
            # A matching name outweighs a conflicting number (councils renumber wards).
            score = 2 * same_name + same_number
            if score:
                scored.append((score, current, ward))
        if not scored:
            return None
        scored.sort(key=lambda item: (item[0], item[1]), reverse=True)
        best = scored[0]
        ties = [item for item in scored if item[:2] == best[:2]]
        return best[2] if len(ties) == 1 else None


_URL = URLValidator(schemes=["http", "https"])


def _clean_url(value: str) -> str:
    text = one_line(value)
    if not text:
        return ""
    try:
        _URL(text)
    except ValidationError:
        return ""
    return text[:500]


def _clean_offices(offices: list) -> list[dict]:
    cleaned = []
    for office in offices:
        entry = {}
        for key, value in office.items():
            if value in (None, ""):
                continue
            if key in ("tel", "fax"):
                value = clean_phone(value)
            elif key == "postal":
                value = fix_text(value)
            elif isinstance(value, str):
                value = one_line(value)
            if value:
                entry[key] = value
        if set(entry) - {"type"}:
            cleaned.append(entry)
    return cleaned


def _resolve_municipality(
    raw: RawRepresentative, *, by_set: dict, by_name: dict
) -> Municipality | None:
    if raw.district_id.startswith("ocd-division/"):
        base = re.match(r"^(ocd-division/country:ca/(?:csd:\d{7}|cd:\d{4}))", raw.district_id)
        if base:
            found = Municipality.objects.filter(ocd_id=base.group(1)).first()
            if found:
                return found
    if raw.set_slug and raw.set_slug in by_set:
        return by_set[raw.set_slug]
    locality = search_key(one_line(raw.locality))
    if locality:
        matches = by_name.get(locality, [])
        province = one_line(raw.province).upper()[:2]
        if province:
            matches = [m for m in matches if m.province == province] or matches
        if len(matches) == 1:
            return matches[0]
    return None


_COMPARED_FIELDS = (
    "name",
    "first_name",
    "last_name",
    "role",
    "role_text",
    "ward_id",
    "email",
    "email_kind",
    "contact_url",
    "phone",
    "offices",
    "photo_url",
    "source",
    "source_url",
    "active",
)
_GENERIC_ROLE_TEXTS = {"", "member", "membre", "elected", "elu", "elue"}


@transaction.atomic
def representatives_import(
    *,
    records: Iterable[RawRepresentative],
    municipality: Municipality | None = None,
    source: str = Representative.Source.CSV,
    source_url: str = "",
    summary: ImportSummary | None = None,
) -> ImportSummary:
    """Create or update representatives from parsed records; mark those no longer listed for
    the municipalities in this file inactive (manual entries are left alone).

    A bad row is skipped with its line number and reason; it never aborts the file.
    """
    run = RepresentativesImport(
        municipality=municipality, source=source, source_url=source_url, summary=summary
    )
    run.add(records)
    return run.finish()


class RepresentativesImport:
    """One import of representatives, fed records in one go (representatives_import) or in
    batches (directory_import_run), which changes nothing in the result: the people already
    seen and the municipalities touched are kept across batches, and those no longer listed
    are marked inactive only by finish(), once every record is in."""

    def __init__(
        self,
        *,
        municipality: Municipality | None = None,
        source: str = Representative.Source.CSV,
        source_url: str = "",
        summary: ImportSummary | None = None,
    ):
        self.municipality = municipality
        self.source = source
        self.source_url = source_url
        self.summary = summary or ImportSummary()
        self.now = timezone.now()
        self.by_set: dict[str, Municipality] = {}
        self.by_name: dict[str, list[Municipality]] = {}
        if municipality is None:
            for m in Municipality.objects.active():
                if m.represent_set:
                    self.by_set[m.represent_set] = m
                self.by_name.setdefault(search_key(m.name), []).append(m)
        self.touched: dict[int, Municipality] = {}
        self.existing: dict[int, dict[str, Representative]] = {}
        self.matchers: dict[int, WardMatcher] = {}
        self.seen: dict[int, set[int]] = {}

    def add(self, records: Iterable[RawRepresentative]) -> None:
        summary = self.summary
        for raw in records:
            if vacancy := _vacancy(raw):
                summary.skipped.append((raw.line, vacancy))
                continue
            target = self.municipality or _resolve_municipality(
                raw, by_set=self.by_set, by_name=self.by_name
            )
            if target is None:
                summary.skipped.append(
                    (raw.line, "no municipality (pass --municipality or a Locality column)")
                )
                continue
            if target.pk not in self.touched:
                self.touched[target.pk] = target
                self.existing[target.pk] = {
                    rep.search_name: rep
                    for rep in Representative.objects.filter(municipality=target)
                }
                self.matchers[target.pk] = WardMatcher(
                    list(Ward.objects.filter(municipality=target))
                )
                self.seen[target.pk] = set()
            reason = _representative_upsert(
                raw=raw,
                municipality=target,
                existing=self.existing[target.pk],
                matcher=self.matchers[target.pk],
                seen=self.seen[target.pk],
                source=self.source,
                source_url=self.source_url,
                now=self.now,
                summary=summary,
            )
            if reason:
                summary.skipped.append((raw.line, reason))

    def finish(self) -> ImportSummary:
        """Mark inactive whoever the file no longer lists, in the municipalities it named."""
        for pk, target in self.touched.items():
            if not self.seen[pk]:
                continue
            stale = (
                Representative.objects.filter(municipality=target, active=True)
                .exclude(pk__in=self.seen[pk])
                .exclude(source=Representative.Source.MANUAL)
            )
            self.summary.deactivated += stale.update(active=False)
        return self.summary


def _vacancy(raw: RawRepresentative) -> str:
    """The reason to skip a row that names nobody ("Vacant", "To be determined", blank)."""
    name = clean_person_name(raw.name) or " ".join(
        p for p in (clean_person_name(raw.first_name), clean_person_name(raw.last_name)) if p
    )
    if not name:
        return "no name"
    first = clean_person_name(raw.first_name)
    if is_vacant(name) or (first and is_vacant(first)):
        return f"vacant seat ({name})"
    return ""


def _representative_upsert(
    *, raw, municipality, existing, matcher, seen, source, source_url, now, summary
) -> str:
    """Write one record; returns the reason when it is skipped, else ""."""
    first = clean_person_name(raw.first_name)
    last = clean_person_name(raw.last_name)
    name = clean_person_name(raw.name) or " ".join(p for p in (first, last) if p)
    if not (first or last):
        first, last = split_name(name)
    names = [municipality.name, municipality.name_fr]
    district = strip_city_prefix(raw.district_name, names)
    if raw.district_id.strip() and not one_line(raw.district_id):
        district = ""  # the district was only mangled spaces: an at-large seat
    role_text = one_line(raw.role_text)
    role = role_from_text(role_text)
    whole_city = is_whole_municipality(district, names)
    if search_key(role_text) in _GENERIC_ROLE_TEXTS and whole_city:
        role = Role.MAYOR
    ward = None
    if role not in (Role.MAYOR, Role.DEPUTY_MAYOR) and not whole_city and not is_at_large(district):
        ward = (
            matcher.match(one_line(raw.district_id))
            if raw.district_id.startswith("ocd-division/")
            else None
        )
        ward = ward or matcher.match(district) or matcher.match(one_line(raw.district_id))
        if ward is None:
            summary.notes.append(f"line {raw.line}: no ward matches {district!r}")
    email = clean_email(raw.email)
    if raw.email.strip() and not email:
        summary.notes.append(f"line {raw.line}: invalid email {one_line(raw.email)!r} dropped")
    offices = _clean_offices(raw.offices)
    phone = clean_phone(raw.phone)
    values = {
        "name": name[:200],
        "first_name": first[:100],
        "last_name": last[:100],
        "role": role,
        "role_text": role_text[:200],
        "ward_id": ward.pk if ward else None,
        "email": email,
        "email_kind": email_kind(email),
        "contact_url": _clean_url(raw.contact_url),
        "phone": phone[:50],
        "offices": offices,
        "photo_url": _clean_url(raw.photo_url),
        "source": source,
        "source_url": _clean_url(raw.source_url) or _clean_url(source_url),
        "active": True,
    }
    key = search_key(values["name"])
    rep = existing.get(key)
    if rep is not None and rep.pk in seen:
        return f"{values['name']} is listed twice"
    created = rep is None
    if created:
        rep = Representative(municipality=municipality)
    changed = created or any(getattr(rep, f) != values[f] for f in _COMPARED_FIELDS)
    if not created and rep.email != email:
        rep.bounce_count = 0
    for name_, value in values.items():
        setattr(rep, name_, value)
    rep.last_verified = now
    try:
        rep.full_clean(exclude=["municipality", "ward"], validate_unique=False)
    except ValidationError as exc:
        if created:
            return "; ".join(f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items())
        rep.refresh_from_db()
        return "; ".join(f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items())
    rep.save()
    existing[key] = rep
    seen.add(rep.pk)
    if created:
        summary.created += 1
    elif changed:
        summary.updated += 1
    else:
        summary.unchanged += 1
    return ""


def representatives_import_file(
    *, path_or_url: str, data: bytes | None = None, municipality: Municipality | None = None
) -> ImportSummary:
    """Import an Open North CSV or Represent JSON file (or URL; JSON pages follow meta.next)."""
    summary = ImportSummary()
    payload = None
    if data is None and _is_represent_url(path_or_url):
        # Represent's own API: throttled, with back-off, like sync_represent.
        payload = represent.get_json(path_or_url)
    elif data is None:
        data = read_bytes(path_or_url)
    if payload is not None or looks_like_json(data):
        payload = payload if payload is not None else load_json(data)
        records = representatives_from_json(payload)
        next_url = next_page_url(payload)
        while next_url and is_url(path_or_url):
            page = represent.get_json(urljoin(path_or_url, next_url))
            records += representatives_from_json(page, first_line=len(records) + 1)
            next_url = next_page_url(page)
        if next_url:
            summary.notes.append(f"more pages at {next_url} were not read (not a URL source)")
        source = Representative.Source.REPRESENT
    else:
        records, warnings = representatives_from_csv(data)
        summary.notes += warnings
        source = Representative.Source.CSV
    return representatives_import(
        records=records,
        municipality=municipality,
        source=source,
        source_url=path_or_url if is_url(path_or_url) else "",
        summary=summary,
    )


def directory_import_run(*, job_id: int) -> DirectoryImport | None:
    """Import a queued directory file (an upload too large for the request) in batches.

    Each batch commits with the job's progress, so the progress page shows it as it goes.
    People no longer listed are marked inactive only after the last batch. When the job
    fails, the rows of the batches before stay imported and nobody is marked inactive;
    importing the file again is safe, as people are matched by name. Failures are recorded on
    the job (FAILED and a message), not raised; a finished job is left alone.
    """
    job = DirectoryImport.objects.select_related("municipality").filter(pk=job_id).first()
    if job is None or job.is_finished:
        return job
    # A RUNNING job here is one whose worker died (Celery hands the task to another worker
    # only then): it starts again from the first row.
    job.mark_running()
    summary = ImportSummary()
    try:
        records, notes, is_json = representatives_from_text(job.text)
        summary.notes += notes
        run = RepresentativesImport(
            municipality=job.municipality,
            source=Representative.Source.REPRESENT if is_json else Representative.Source.CSV,
            summary=summary,
        )
        for batch in _batches(records, DIRECTORY_IMPORT_BATCH_ROWS):
            with transaction.atomic():
                run.add(batch)
                job.record_progress(rows=len(batch), summary=summary)
        with transaction.atomic():
            run.finish()
            job.mark_done(summary=summary)
    except SourceError as exc:
        job.mark_failed(message=str(exc), summary=summary)
    except SoftTimeLimitExceeded:
        job.mark_failed(
            message=_("The import took longer than the time a task may run, and was stopped."),
            summary=summary,
        )
    except Exception as exc:
        logger.exception("Directory import %s failed", job.pk)
        job.mark_failed(
            message=_("The import stopped on an unexpected error: %(error)s") % {"error": exc},
            summary=summary,
        )
    return job


def _batches(records: Iterable[RawRepresentative], size: int) -> Iterator[list]:
    iterator = iter(records)
    while batch := list(islice(iterator, size)):
        yield batch


def _is_represent_url(url: str) -> bool:
    return is_url(url) and url.startswith(settings.REPRESENT_API_URL.rstrip("/") + "/")


def represent_sync(*, set_slug: str, municipality: Municipality | None = None) -> ImportSummary:
    """Import one representative set from Represent's live API (throttled, backs off on 503)."""
    if municipality is None:
        municipality = municipality_for_represent_set(set_slug=set_slug)
    records: list[RawRepresentative] = []
    first_url = ""
    for page_url, objects in represent.representatives(set_slug):
        first_url = first_url or page_url
        records += representatives_from_json(objects, first_line=len(records) + 1)
    if municipality.represent_set != set_slug:
        municipality.represent_set = set_slug
        municipality.save(update_fields=["represent_set"])
    return representatives_import(
        records=records,
        municipality=municipality,
        source=Representative.Source.REPRESENT,
        source_url=first_url,
    )


_SET_SUFFIXES = ("-city-council", "-town-council", "-council", "-conseil-municipal", "-municipal")


def municipality_for_represent_set(*, set_slug: str) -> Municipality:
    """The municipality a Represent set belongs to: one already linked to the slug, else the one
    whose name matches the slug ("toronto-city-council" -> Toronto)."""
    linked = Municipality.objects.filter(represent_set=set_slug).first()
    if linked:
        return linked
    base = set_slug
    for prefix in ("conseil-municipal-de-", "conseil-municipal-d-", "ville-de-", "city-of-"):
        base = base.removeprefix(prefix)
    for suffix in _SET_SUFFIXES:
        base = base.removesuffix(suffix)
    matches = [
        m
        for m in Municipality.objects.active().filter(search_name__icontains=base.split("-")[0])
        if slugify(m.name) == base or slugify(m.name_fr) == base
    ]
    if len(matches) != 1:
        raise SourceError(
            f"cannot tell which municipality the set {set_slug!r} belongs to "
            f"({len(matches)} candidates); pass --municipality OCD_ID"
        )
    return matches[0]


# --- Postal code prefixes (FSA) ---------------------------------------------------------------


@transaction.atomic
def postcode_prefixes_import(*, data: bytes) -> ImportSummary:
    """Load FSA rows from a CSV with columns fsa and ocd_id (or csd_code), optional ward
    (a ward OCD id). Re-running it changes nothing."""
    summary = ImportSummary(label="postal code prefixes")
    header, rows = csv_rows(decode(data))
    columns = {search_key(h): h for h in header}
    if "fsa" not in columns or not ({"ocd_id", "csd_code", "division_id"} & set(columns)):
        raise SourceError("expected columns: fsa, ocd_id (or csd_code), and optionally ward")
    for line, row in rows:
        fsa = one_line(row.get(columns["fsa"])).upper().replace(" ", "")[:3]
        if not re.fullmatch(r"[ABCEGHJKLMNPRSTVXY]\d[A-Z]", fsa):
            summary.skipped.append((line, f"not a postal code prefix: {fsa!r}"))
            continue
        key = next(c for c in ("ocd_id", "division_id", "csd_code") if c in columns)
        value = one_line(row.get(columns[key]))
        lookup = {"csd_code": value} if key == "csd_code" else {"ocd_id": value}
        municipality = Municipality.objects.filter(**lookup).first()
        if municipality is None:
            summary.skipped.append((line, f"unknown municipality {value!r}"))
            continue
        ward = None
        if "ward" in columns and one_line(row.get(columns["ward"])):
            ward = Ward.objects.filter(
                ocd_id=one_line(row.get(columns["ward"])), municipality=municipality
            ).first()
            if ward is None:
                summary.notes.append(f"line {line}: unknown ward {row.get(columns['ward'])!r}")
        prefix, created = PostcodePrefix.objects.get_or_create(
            fsa=fsa, municipality=municipality, defaults={"ward": ward}
        )
        if created:
            summary.created += 1
        elif prefix.ward_id != (ward.pk if ward else None):
            prefix.ward = ward
            prefix.save(update_fields=["ward"])
            summary.updated += 1
        else:
            summary.unchanged += 1
    return summary


# --- The lookup's cache of Represent answers --------------------------------------------------


def postcode_answer_store(
    *, postal_code: str, candidates: list[tuple[Municipality, Ward | None]], province: str
) -> PostcodeAnswer:
    answer, _ = PostcodeAnswer.objects.update_or_create(
        postal_code=postal_code,
        defaults={
            "candidates": [
                {"municipality": m.ocd_id, "ward": w.ocd_id if w else None} for m, w in candidates
            ],
            "province": province or "",
            "fetched_at": timezone.now(),
        },
    )
    return answer


# --- Demo data ---------------------------------------------------------------------------------


@transaction.atomic
def demo_data_load(*, path: Path = DEMO_FILE) -> tuple[int, int]:
    """Load demo municipalities, wards, postal-code prefixes and role-based placeholder
    representatives (example.org-style addresses, no real person). Safe to run again.

    Placeholders are only added to municipalities with no imported representatives, so the
    demo never mixes with real data. Returns (municipalities, representatives) in the demo.
    """
    demo = json.loads(path.read_text(encoding="utf-8"))
    municipalities: dict[str, Municipality] = {}
    for item in demo["municipalities"]:
        item = dict(item)
        ocd_id = item.pop("ocd_id")
        municipality = Municipality.objects.filter(ocd_id=ocd_id).first()
        if municipality is None:
            municipality = Municipality(ocd_id=ocd_id, **item)
            municipality.full_clean()
            municipality.save()
        municipalities[ocd_id] = municipality
    wards: dict[str, Ward] = {}
    for item in demo["wards"]:
        item = dict(item)
        municipality = municipalities[item.pop("municipality")]
        ward, _ = Ward.objects.get_or_create(
            ocd_id=item.pop("ocd_id"), defaults={"municipality": municipality, **item}
        )
        wards[ward.ocd_id] = ward
    for item in demo["postcode_prefixes"]:
        ward = wards.get(item.get("ward") or "")
        PostcodePrefix.objects.get_or_create(
            fsa=item["fsa"],
            municipality=municipalities[item["municipality"]],
            defaults={"ward": ward},
        )
    representatives = 0
    now = timezone.now()
    for ocd_id, people in demo["representatives"].items():
        municipality = municipalities[ocd_id]
        imported = municipality.representatives.exclude(source=Representative.Source.MANUAL)
        if imported.exists():
            continue
        for person in people:
            person = dict(person)
            ward = wards.get(person.pop("ward", "") or "")
            defaults = {
                **person,
                "ward": ward,
                "email_kind": email_kind(person.get("email", "")),
                "source": Representative.Source.MANUAL,
                "last_verified": now,
            }
            rep = Representative.objects.filter(
                municipality=municipality, name=person["name"]
            ).first()
            if rep is None:
                rep = Representative(municipality=municipality, **defaults)
                rep.full_clean()
                rep.save()
            representatives += 1
    return len(municipalities), representatives


def representatives_reset_bounces(*, representatives) -> int:
    """Clear the hard-bounce count of representatives whose address an organizer has checked
    or corrected, so they are emailed again. Returns how many were reset."""
    return representatives.filter(bounce_count__gt=0).update(bounce_count=0)
