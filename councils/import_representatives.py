"""Import representatives from an Open North CSV or a Represent JSON file (a path, a URL or an
upload), at once or as a queued directory import job in batches.

Matching people by name, their ward by district label, and marking whoever a file no longer
lists inactive all happen here; sync_represent.py feeds the same import from Represent's API.
"""

import logging
import re
from collections.abc import Iterable, Iterator
from itertools import islice
from urllib.parse import urljoin

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import transaction
from django.utils import timezone
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
)
from .import_summary import ImportSummary
from .models import DirectoryImport, Municipality, Representative, Role, Ward, search_key
from .sources import (
    RawRepresentative,
    SourceError,
    is_url,
    load_json,
    looks_like_json,
    next_page_url,
    read_bytes,
    representatives_from_csv,
    representatives_from_json,
    representatives_from_text,
)

logger = logging.getLogger(__name__)

# Rows a directory import job writes per transaction, with its progress.
DIRECTORY_IMPORT_BATCH_ROWS = 500


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
