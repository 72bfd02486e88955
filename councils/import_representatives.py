"""Import representatives from an Open North CSV or a Represent JSON file (a path, a URL or an
upload), in two steps: a plan of what changes (councils.roster_plan), then, once someone has
seen it, applying it. A large upload is read into its plan by a queued job, in batches.

An import makes the file each council's roster: people are matched by name, their ward by
district label, and whoever the file no longer lists (demo placeholders and people added by
hand included) is retired. sync_represent.py plans from Represent's API the same way.
"""

import logging
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
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
from .roster_plan import COMPARED_FIELDS, CouncilPlan, RosterPlan, fingerprint, issue
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

# Rows a directory import job reads between two saves of its progress.
DIRECTORY_IMPORT_BATCH_ROWS = 500
# Rows per INSERT or UPDATE when a plan is applied.
APPLY_BATCH_ROWS = 500


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


class RosterOutdated(Exception):
    """A council's roster changed after the plan was made (another import, an edit in the
    admin): applying the plan would undo that change. Carries the council's name."""


_BASE_DIVISION = re.compile(r"^(ocd-division/country:ca/(?:csd:\d{7}|cd:\d{4}))")
_GENERIC_ROLE_TEXTS = {"", "member", "membre", "elected", "elu", "elue"}


@dataclass
class _Council:
    """What the planner keeps about one council the file names."""

    municipality: Municipality
    representatives: list[Representative]
    existing: dict[str, Representative]
    matcher: WardMatcher
    ward_names: dict[int, str]
    plan: CouncilPlan
    seen: set[int] = field(default_factory=set)
    listed: set[str] = field(default_factory=set)


class RosterPlanner:
    """Works out a RosterPlan from records given in one go (representatives_plan) or in
    batches (directory_import_run), which changes nothing in the result: the people already
    seen are kept across batches, and those no longer listed are known only once every
    record is in (finish). Reads the directory, writes nothing.

    Each row is placed by the municipality given for the whole file, else by its OCD id
    (District ID), its Represent set, or its Locality (and Province) column; a row that
    cannot be placed is reported in the plan, with the reason.
    """

    def __init__(
        self,
        *,
        municipality: Municipality | None = None,
        source: str = Representative.Source.CSV,
        source_label: str = "",
        source_url: str = "",
        notes: list | None = None,
    ):
        self.municipality = municipality
        self.source = source
        self.source_url = source_url
        self.plan = RosterPlan(source_label=source_label[:500], notes=list(notes or []))
        self.councils: dict[int, _Council] = {}
        self.by_set: dict[str, Municipality] = {}
        self.by_name: dict[str, list[Municipality]] = {}
        self.by_ocd_id: dict[str, Municipality | None] = {}
        if municipality is None:
            for m in Municipality.objects.active():
                if m.represent_set:
                    self.by_set[m.represent_set] = m
                for name in {search_key(n) for n in (m.name, m.name_fr, m.organization_name)}:
                    if name:
                        self.by_name.setdefault(name, []).append(m)

    def add(self, records: Iterable[RawRepresentative]) -> None:
        for raw in records:
            if problem := _vacancy(raw):
                self.plan.skipped.append(problem)
                continue
            target, problem = (self.municipality, None) if self.municipality else self._place(raw)
            if target is None:
                self.plan.unplaced.append(problem)
                continue
            self._plan_row(raw, self._council(target))

    def finish(self) -> RosterPlan:
        """The plan, with whoever the file no longer lists retired in each council it names.
        A council none of whose rows could be used keeps its roster."""
        councils = []
        for council in self.councils.values():
            if not (council.seen or council.plan.new):
                self.plan.notes.append(
                    issue(0, "no_valid_rows", municipality=str(council.municipality))
                )
                continue
            council.plan.retired = [
                _retired_entry(rep, council.ward_names)
                for rep in council.representatives
                if rep.active and rep.pk not in council.seen
            ]
            councils.append(council.plan)
        self.plan.councils = councils
        return self.plan

    def _place(self, raw: RawRepresentative) -> tuple[Municipality | None, list | None]:
        ocd_id = ""
        if base := _BASE_DIVISION.match(raw.district_id.strip()):
            ocd_id = base.group(1)
            if ocd_id not in self.by_ocd_id:
                self.by_ocd_id[ocd_id] = Municipality.objects.filter(ocd_id=ocd_id).first()
            if found := self.by_ocd_id[ocd_id]:
                return found, None
        if raw.set_slug and raw.set_slug in self.by_set:
            return self.by_set[raw.set_slug], None
        locality = one_line(raw.locality)
        if key := search_key(locality):
            matches = self.by_name.get(key, [])
            province = one_line(raw.province).upper()[:2]
            if province:
                matches = [m for m in matches if m.province == province] or matches
            if len(matches) == 1:
                return matches[0], None
            if len(matches) > 1:
                return None, issue(raw.line, "ambiguous_locality", locality=locality)
            if ocd_id:
                return None, issue(raw.line, "unknown_ocd_id", ocd_id=ocd_id)
            if province:
                return None, issue(
                    raw.line, "unknown_locality_province", locality=locality, province=province
                )
            return None, issue(raw.line, "unknown_locality", locality=locality)
        if ocd_id:
            return None, issue(raw.line, "unknown_ocd_id", ocd_id=ocd_id)
        return None, issue(raw.line, "no_municipality")

    def _council(self, municipality: Municipality) -> _Council:
        council = self.councils.get(municipality.pk)
        if council is None:
            representatives = list(
                Representative.objects.filter(municipality=municipality).order_by("pk")
            )
            wards = list(Ward.objects.filter(municipality=municipality))
            council = _Council(
                municipality=municipality,
                representatives=representatives,
                existing={rep.search_name: rep for rep in representatives},
                matcher=WardMatcher(wards),
                ward_names={ward.pk: ward.name for ward in wards},
                plan=CouncilPlan(
                    municipality_id=municipality.pk,
                    municipality=str(municipality),
                    fingerprint=fingerprint(representatives),
                ),
            )
            self.councils[municipality.pk] = council
            self.plan.councils.append(council.plan)  # counted in the progress from now on
        return council

    def _plan_row(self, raw: RawRepresentative, council: _Council) -> None:
        values = _cleaned_values(
            raw,
            municipality=council.municipality,
            matcher=council.matcher,
            source=self.source,
            source_url=self.source_url,
            notes=self.plan.notes,
        )
        key = search_key(values["name"])
        if key in council.listed:
            self.plan.skipped.append(issue(raw.line, "listed_twice", name=values["name"]))
            return
        council.listed.add(key)
        rep = council.existing.get(key)
        candidate = Representative(municipality=council.municipality, **values)
        try:
            candidate.full_clean(exclude=["municipality", "ward"], validate_unique=False)
        except ValidationError as exc:
            errors = "; ".join(f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items())
            self.plan.skipped.append(issue(raw.line, "invalid", name=values["name"], errors=errors))
            if rep is not None:
                council.seen.add(rep.pk)  # listed, so kept as it is
            return
        ward_name = council.ward_names.get(values["ward_id"], "")
        if rep is None:
            council.plan.new.append({"line": raw.line, "values": values, "ward": ward_name})
            return
        council.seen.add(rep.pk)
        changes = []
        for name in COMPARED_FIELDS:
            old, new = getattr(rep, name), values[name]
            if old == new:
                continue
            if name == "ward_id":
                changes.append(["ward", council.ward_names.get(old, ""), ward_name])
            else:
                changes.append([name, old, new])
        if changes:
            council.plan.changed.append(
                {"id": rep.pk, "line": raw.line, "values": values, "changes": changes}
            )
        else:
            council.plan.unchanged.append(rep.pk)


def _retired_entry(rep: Representative, ward_names: dict[int, str]) -> dict:
    return {
        "id": rep.pk,
        "name": rep.name,
        "role": rep.role,
        "ward": ward_names.get(rep.ward_id, ""),
        "email": rep.email,
        "placeholder": rep.is_placeholder,
        "manual": rep.source == Representative.Source.MANUAL,
    }


def _vacancy(raw: RawRepresentative) -> list | None:
    """The problem with a row that names nobody ("Vacant", "To be determined", blank)."""
    name = clean_person_name(raw.name) or " ".join(
        p for p in (clean_person_name(raw.first_name), clean_person_name(raw.last_name)) if p
    )
    if not name:
        return issue(raw.line, "no_name")
    first = clean_person_name(raw.first_name)
    if is_vacant(name) or (first and is_vacant(first)):
        return issue(raw.line, "vacant", name=name)
    return None


def _cleaned_values(raw, *, municipality, matcher, source, source_url, notes) -> dict:
    """The Representative fields a row gives, cleaned; problems worth a note go to notes."""
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
            notes.append(issue(raw.line, "no_ward", district=district))
    email = clean_email(raw.email)
    if raw.email.strip() and not email:
        notes.append(issue(raw.line, "invalid_email", email=one_line(raw.email)))
    return {
        "name": name[:200],
        "first_name": first[:100],
        "last_name": last[:100],
        "role": role,
        "role_text": role_text[:200],
        "ward_id": ward.pk if ward else None,
        "email": email,
        "email_kind": email_kind(email),
        "contact_url": _clean_url(raw.contact_url),
        "phone": clean_phone(raw.phone)[:50],
        "offices": _clean_offices(raw.offices),
        "photo_url": _clean_url(raw.photo_url),
        "source": source,
        "source_url": _clean_url(raw.source_url) or _clean_url(source_url),
        "active": True,
    }


def representatives_plan(
    *,
    records: Iterable[RawRepresentative],
    municipality: Municipality | None = None,
    source: str = Representative.Source.CSV,
    source_label: str = "",
    source_url: str = "",
    notes: list | None = None,
) -> RosterPlan:
    """What importing these records changes; nothing is written.

    A bad row is skipped with its line number and reason; it never aborts the file.
    """
    planner = RosterPlanner(
        municipality=municipality,
        source=source,
        source_label=source_label,
        source_url=source_url,
        notes=notes,
    )
    planner.add(records)
    return planner.finish()


@transaction.atomic
def roster_plan_apply(*, plan: RosterPlan) -> RosterPlan:
    """Write a plan: create the new members, update the changed ones, retire the others, and
    record each council's roster as checked now against the plan's source.

    All or nothing. Raises RosterOutdated, changing nothing, when a council's roster is no
    longer the one the plan was made from.
    """
    now = timezone.now()
    for council in plan.councils:
        municipality = (
            Municipality.objects.select_for_update().filter(pk=council.municipality_id).first()
        )
        if municipality is None:
            raise RosterOutdated(council.municipality)
        representatives = list(Representative.objects.filter(municipality=municipality))
        if fingerprint(representatives) != council.fingerprint:
            raise RosterOutdated(str(municipality))
        ward_ids = set(Ward.objects.filter(municipality=municipality).values_list("pk", flat=True))

        Representative.objects.bulk_create(
            [
                Representative(
                    municipality=municipality,
                    last_verified=now,
                    search_name=search_key(entry["values"]["name"]),
                    **_with_ward(entry["values"], ward_ids),
                )
                for entry in council.new
            ],
            batch_size=APPLY_BATCH_ROWS,
        )
        by_pk = {rep.pk: rep for rep in representatives}
        changed = []
        for entry in council.changed:
            rep = by_pk[entry["id"]]
            values = _with_ward(entry["values"], ward_ids)
            if rep.email != values["email"]:
                rep.bounce_count = 0  # a new address starts with a clean record
            for name, value in values.items():
                setattr(rep, name, value)
            rep.search_name = search_key(rep.name)
            rep.last_verified = now
            changed.append(rep)
        Representative.objects.bulk_update(
            changed,
            [*COMPARED_FIELDS, "bounce_count", "search_name", "last_verified"],
            batch_size=APPLY_BATCH_ROWS,
        )
        for ids in _chunks(council.unchanged):
            Representative.objects.filter(pk__in=ids).update(last_verified=now)
        for ids in _chunks([entry["id"] for entry in council.retired]):
            Representative.objects.filter(pk__in=ids).update(active=False)
        municipality.roster_mark_checked(source=plan.source_label, on=now)
    return plan


def _with_ward(values: dict, ward_ids: set[int]) -> dict:
    """A ward deleted since the plan was made: the person is imported without one."""
    return values if values["ward_id"] in ward_ids else {**values, "ward_id": None}


def _chunks(items: list, size: int = APPLY_BATCH_ROWS) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def representatives_plan_file(
    *, path_or_url: str, data: bytes | None = None, municipality: Municipality | None = None
) -> RosterPlan:
    """Plan the import of an Open North CSV or Represent JSON file (or URL; JSON pages follow
    meta.next). Raises SourceError or RepresentError when it cannot be read."""
    notes = []
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
            notes.append(issue(0, "more_pages", url=next_url))
        source = Representative.Source.REPRESENT
    else:
        records, warnings = representatives_from_csv(data)
        notes += warnings
        source = Representative.Source.CSV
    return representatives_plan(
        records=records,
        municipality=municipality,
        source=source,
        source_label=path_or_url,
        source_url=path_or_url if is_url(path_or_url) else "",
        notes=notes,
    )


def representatives_import_file(
    *, path_or_url: str, data: bytes | None = None, municipality: Municipality | None = None
) -> ImportSummary:
    """Plan and apply at once, without review (tests, scripts): what the plan did."""
    plan = representatives_plan_file(path_or_url=path_or_url, data=data, municipality=municipality)
    return roster_plan_apply(plan=plan).summary()


def directory_import_run(*, job_id: int) -> DirectoryImport | None:
    """Read a queued directory file (an upload too large for the request) into its plan, in
    batches, saving the progress after each; the job then waits for review.

    Nothing in the directory changes here. Failures are recorded on the job (FAILED and a
    message), not raised; a job already read is left alone.
    """
    job = DirectoryImport.objects.select_related("municipality").filter(pk=job_id).first()
    if job is None or job.status not in (
        DirectoryImport.Status.QUEUED,
        DirectoryImport.Status.RUNNING,
    ):
        return job
    # A RUNNING job here is one whose worker died (Celery hands the task to another worker
    # only then): it starts again from the first row.
    job.mark_running()
    planner = None
    try:
        records, notes, is_json = representatives_from_text(job.text)
        planner = RosterPlanner(
            municipality=job.municipality,
            source=Representative.Source.REPRESENT if is_json else Representative.Source.CSV,
            source_label=job.file_name,
            notes=notes,
        )
        for batch in _batches(records, DIRECTORY_IMPORT_BATCH_ROWS):
            planner.add(batch)
            job.record_progress(rows=len(batch), counts=planner.plan)
        job.mark_review(plan=planner.finish())
    except SourceError as exc:
        job.mark_failed(message=str(exc), counts=planner and planner.plan)
    except SoftTimeLimitExceeded:
        job.mark_failed(
            message=_("The import took longer than the time a task may run, and was stopped."),
            counts=planner and planner.plan,
        )
    except Exception as exc:
        logger.exception("Directory import %s failed", job.pk)
        job.mark_failed(
            message=_("The import stopped on an unexpected error: %(error)s") % {"error": exc},
            counts=planner and planner.plan,
        )
    return job


def directory_import_apply(*, job_id: int) -> DirectoryImport | None:
    """Apply the plan of a job an organizer approved (status APPLYING), all or nothing.

    A roster changed since the plan was made leaves the job OUTDATED; failures are recorded
    on the job, not raised.
    """
    job = DirectoryImport.objects.defer("text").filter(pk=job_id).first()
    if job is None or job.status != DirectoryImport.Status.APPLYING:
        return job
    try:
        roster_plan_apply(plan=RosterPlan.from_json(job.plan))
    except RosterOutdated as exc:
        job.mark_outdated(message=str(exc))
    except SoftTimeLimitExceeded:
        job.mark_failed(
            message=_("The import took longer than the time a task may run, and was stopped.")
        )
    except Exception as exc:
        logger.exception("Directory import %s could not be applied", job.pk)
        job.mark_failed(
            message=_("The import stopped on an unexpected error: %(error)s") % {"error": exc}
        )
    else:
        job.mark_done()
    return job


def _batches(records: Iterable[RawRepresentative], size: int) -> Iterator[list]:
    iterator = iter(records)
    while batch := list(islice(iterator, size)):
        yield batch


def _is_represent_url(url: str) -> bool:
    return is_url(url) and url.startswith(settings.REPRESENT_API_URL.rstrip("/") + "/")
