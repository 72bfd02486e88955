"""Writes to the council directory that enforce a rule or have a side effect: the resident's
postal-code lookup (which asks Represent and remembers its answer), the admin's directory upload
(read into a plan at once, or by a queued job; applied after review), marking rosters checked,
contact reports, clearing bounces.

The lookup is a chain that never dead-ends:
  1. "cache"     an earlier Represent answer for the same full postal code;
  2. "represent" Represent's /postcodes/<CODE>/ (only when REPRESENT_LOOKUP_ENABLED), boundaries
                 by concordance before centroid; the answer is cached;
  3. "fsa"       the organizer-loadable table keyed on the first three characters;
  4. "hint"      the shipped prefixes where a council had an office (councils/seed/): the
                 municipality is suggested, and the resident confirms it in the picker;
  5. "province"  the province from the first letter (X0A/X0B/X0C Nunavut, X0E/X0G/X1A NWT),
                 which narrows the municipality picker;
  6. "none"      nothing known: the picker shows every municipality.
"""

import logging

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from kombu.exceptions import OperationalError as BrokerError

from . import import_representatives, represent
from .import_representatives import representatives_plan_file
from .models import (
    ContactReport,
    DirectoryImport,
    Municipality,
    PostcodeAnswer,
    Representative,
    Ward,
)
from .selectors import (
    Candidate,
    LookupResult,
    boundary_candidates,
    postcode_answer_candidates,
    postcode_hint_candidates,
    postcode_normalise,
    postcode_prefix_candidates,
    province_from_postcode,
)
from .sources import CheckedUpload
from .tasks import directory_import_apply as directory_import_apply_task
from .tasks import directory_import_run as directory_import_run_task

logger = logging.getLogger(__name__)


def postcode_lookup(*, postal_code: str) -> LookupResult:
    """Find the municipality (and ward) for a postal code. Raises ValidationError only for an
    invalid code; Represent being slow or down just moves on to the next step."""
    code = postcode_normalise(postal_code)
    province = province_from_postcode(code)

    candidates = postcode_answer_candidates(postal_code=code)
    if candidates:
        return LookupResult(code, "cache", candidates, _province_of(candidates, province))

    if settings.REPRESENT_LOOKUP_ENABLED:
        candidates = _from_represent(code)
        if candidates:
            return LookupResult(code, "represent", candidates, _province_of(candidates, province))

    candidates = postcode_prefix_candidates(postal_code=code)
    if candidates:
        return LookupResult(code, "fsa", candidates, _province_of(candidates, province))

    candidates = postcode_hint_candidates(postal_code=code)
    if candidates:
        return LookupResult(code, "hint", candidates, _province_of(candidates, province))

    if province:
        return LookupResult(code, "province", [], province)
    return LookupResult(code, "none", [], None)


def _province_of(candidates: list[Candidate], fallback: str | None) -> str | None:
    provinces = {c.municipality.province for c in candidates}
    return provinces.pop() if len(provinces) == 1 else fallback


def _from_represent(code: str) -> list[Candidate]:
    try:
        data = represent.postcode(code)
    except represent.RepresentNotFound:
        return []
    except represent.RepresentError as exc:
        logger.warning("Represent lookup for %s failed, falling through: %s", code, exc)
        return []
    if not isinstance(data, dict):
        return []
    for key in ("boundaries_concordance", "boundaries_centroid"):
        boundaries = [b for b in data.get(key) or [] if isinstance(b, dict)]
        pairs = boundary_candidates(boundaries=boundaries)
        if pairs:
            postcode_answer_store(
                postal_code=code, candidates=pairs, province=str(data.get("province") or "")
            )
            return [Candidate(m, w) for m, w in pairs]
    return []


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


def directory_upload_import(
    *, upload: CheckedUpload, municipality: Municipality | None, uploaded_by
) -> DirectoryImport:
    """Read a checked upload into the plan of what it changes, for the organizer to review:
    during the request when it has at most DIRECTORY_UPLOAD_TASK_ROWS records, else in a
    queued job. Returns the job; nothing in the directory changes before it is applied.

    Raises SourceError when a small file cannot be read.
    """
    if upload.records > settings.DIRECTORY_UPLOAD_TASK_ROWS:
        return directory_import_start(
            upload=upload, municipality=municipality, uploaded_by=uploaded_by
        )
    plan = representatives_plan_file(
        path_or_url=upload.name, data=upload.data, municipality=municipality
    )
    job = DirectoryImport(
        file_name=upload.name[:255],
        municipality=municipality,
        uploaded_by=uploaded_by,
        rows_total=upload.records,
        started_at=timezone.now(),
    )
    job.full_clean()
    job.mark_review(plan=plan)
    return job


@transaction.atomic
def directory_import_start(
    *, upload: CheckedUpload, municipality: Municipality | None, uploaded_by
) -> DirectoryImport:
    """Save the upload as a queued DirectoryImport and start its task once that is committed;
    the task reads it into a plan to review."""
    job = DirectoryImport(
        file_name=upload.name[:255],
        municipality=municipality,
        uploaded_by=uploaded_by,
        text=upload.text,
        rows_total=upload.records,
    )
    job.full_clean()
    job.save()
    transaction.on_commit(lambda: _enqueue(job.pk, directory_import_run_task))
    return job


class ImportDecided(Exception):
    """The import is no longer waiting for review (applied, cancelled or being applied)."""


def directory_import_apply(*, job: DirectoryImport, by) -> DirectoryImport:
    """Apply a reviewed import: at once when it writes at most DIRECTORY_UPLOAD_TASK_ROWS
    people, else in a queued task (the job shows APPLYING until it is done). Returns the job,
    DONE, OUTDATED (a roster changed since the preview) or APPLYING.

    Raises ImportDecided when the job is not waiting for review, e.g. after a second click.
    """
    with transaction.atomic():
        job = DirectoryImport.objects.select_for_update().defer("text").get(pk=job.pk)
        if job.status != DirectoryImport.Status.REVIEW:
            raise ImportDecided(job.get_status_display())
        job.mark_applying(by=by)
        rows = job.created + job.updated + job.unchanged + job.deactivated
        if rows > settings.DIRECTORY_UPLOAD_TASK_ROWS:
            transaction.on_commit(lambda: _enqueue(job.pk, directory_import_apply_task))
            return job
    import_representatives.directory_import_apply(job_id=job.pk)
    job.refresh_from_db()
    return job


@transaction.atomic
def directory_import_cancel(*, job: DirectoryImport, by) -> DirectoryImport:
    """Reject an import waiting for review; nothing changes in the directory.

    Raises ImportDecided when the job is not waiting for review.
    """
    job = DirectoryImport.objects.select_for_update().defer("text").get(pk=job.pk)
    if job.status != DirectoryImport.Status.REVIEW:
        raise ImportDecided(job.get_status_display())
    job.mark_cancelled(by=by)
    return job


def _enqueue(job_id: int, task) -> None:
    try:
        task.delay(job_id)
    except BrokerError:
        # Nothing would ever run it: say so on the job rather than leave it queued.
        logger.warning("Broker unavailable: directory import %s could not be queued", job_id)
        job = DirectoryImport.objects.defer("text").get(pk=job_id)
        job.mark_failed(
            message=_(
                "The import could not be queued: the task queue is unreachable. Upload the "
                "file again in a few minutes."
            )
        )


@transaction.atomic
def municipalities_mark_checked(*, municipalities, by) -> int:
    """An organizer checked these councils' contacts by hand: their rosters, and the people
    on them, count as checked now. Returns how many councils."""
    now = timezone.now()
    source = _("Checked by hand by %(user)s") % {"user": by.get_username()}
    count = 0
    for municipality in municipalities:
        municipality.roster_mark_checked(source=source, on=now)
        municipality.representatives.active().update(last_verified=now)
        count += 1
    return count


def contact_report_create(
    *, representative: Representative, problem: str, details: str = ""
) -> ContactReport:
    """File a "Wrong or outdated contact?" report for an organizer to check.

    Raises ValidationError on an unknown problem or details that are too long.
    """
    if len(details) > ContactReport.DETAILS_MAX:
        raise ValidationError({"details": _("Too long.")})
    report = ContactReport(representative=representative, problem=problem, details=details)
    report.full_clean()
    report.save()
    return report


@transaction.atomic
def contact_reports_resolve(*, reports, by, retire: bool = False) -> int:
    """Close open reports as resolved; with retire, first retire the representatives they
    are about (the person left office). Returns how many reports were closed."""
    reports = list(reports.filter(status=ContactReport.Status.OPEN))
    if retire:
        Representative.objects.filter(pk__in={r.representative_id for r in reports}).update(
            active=False
        )
    for report in reports:
        report.mark(status=ContactReport.Status.RESOLVED, by=by)
    return len(reports)


@transaction.atomic
def contact_reports_dismiss(*, reports, by) -> int:
    """Close open reports without changing anything (the contact was right)."""
    reports = list(reports.filter(status=ContactReport.Status.OPEN))
    for report in reports:
        report.mark(status=ContactReport.Status.DISMISSED, by=by)
    return len(reports)


def representatives_reset_bounces(*, representatives) -> int:
    """Clear the hard-bounce count of representatives whose address an organizer has checked
    or corrected, so they are emailed again. Returns how many were reset."""
    return representatives.filter(bounce_count__gt=0).update(bounce_count=0)
