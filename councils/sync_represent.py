"""Import one representative set from Open North's Represent API (represent.opennorth.ca),
through the same plan as the Open North CSV and Represent JSON files; and the optional
periodic sync that keeps linked councils up to date (REPRESENT_SYNC_ENABLED).

The periodic sync applies a small change at once and logs it as a DirectoryImport marked
applied; a larger one (more than REPRESENT_SYNC_MAX_AUTO_CHANGES members added or retired, or
any change of mayor) waits in the admin for an organizer's approval.
"""

import logging
import time
from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import Exists, F, OuterRef, Q
from django.utils import timezone
from django.utils.text import slugify

from . import represent
from .import_representatives import RosterOutdated, representatives_plan, roster_plan_apply
from .models import DirectoryImport, Municipality, Representative
from .roster_plan import RosterPlan, mayor_changes
from .sources import RawRepresentative, SourceError, representatives_from_json

logger = logging.getLogger(__name__)

# Held while a periodic sync runs, so two never overlap (beat can start one before the last
# has finished). It expires on its own if the worker dies.
SYNC_LOCK_KEY = "councils:represent-sync:lock"


def represent_plan(
    *, set_slug: str, municipality: Municipality | None = None
) -> tuple[RosterPlan, Municipality]:
    """What importing a Represent set changes (throttled, backs off on 503); nothing is
    written. Raises SourceError when the set's municipality is unknown, RepresentError when
    Represent cannot be read."""
    if municipality is None:
        municipality = municipality_for_represent_set(set_slug=set_slug)
    records: list[RawRepresentative] = []
    first_url = ""
    for page_url, objects in represent.representatives(set_slug):
        first_url = first_url or page_url
        records += representatives_from_json(objects, first_line=len(records) + 1)
    plan = representatives_plan(
        records=records,
        municipality=municipality,
        source=Representative.Source.REPRESENT,
        source_label=first_url,
        source_url=first_url,
    )
    return plan, municipality


def represent_plan_apply(
    *, plan: RosterPlan, municipality: Municipality, set_slug: str
) -> RosterPlan:
    """Apply a plan made by represent_plan and link the council to the set."""
    with transaction.atomic():
        roster_plan_apply(plan=plan)
        if municipality.represent_set != set_slug:
            municipality.represent_set = set_slug
            municipality.save(update_fields=["represent_set"])
    return plan


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


# --- The periodic sync -------------------------------------------------------------------------


def approval_reasons(plan: RosterPlan, *, limit: int) -> list:
    """Why a plan from the periodic sync should wait for an organizer ([] when it need not):
    more than `limit` members added or retired, or any change of mayor. [[code, params]]"""
    reasons = []
    moved = plan.created + plan.deactivated
    if moved > limit:
        reasons.append(["many_changes", {"count": moved, "limit": limit}])
    if mayor_changes(plan):
        reasons.append(["mayor_changes", {}])
    return reasons


def municipalities_due_for_sync(*, now=None):
    """Active councils linked to a Represent set whose roster was last checked more than
    REPRESENT_SYNC_HOURS ago (or never), oldest first; those with a change from the sync still
    waiting for approval that recent are left until it is decided."""
    now = now or timezone.now()
    cutoff = now - timedelta(hours=settings.REPRESENT_SYNC_HOURS)
    waiting = DirectoryImport.objects.filter(
        municipality=OuterRef("pk"),
        source=DirectoryImport.Source.REPRESENT,
        status=DirectoryImport.Status.REVIEW,
        created_at__gte=cutoff,
    )
    return (
        Municipality.objects.active()
        .exclude(represent_set="")
        .filter(Q(roster_checked_at__isnull=True) | Q(roster_checked_at__lt=cutoff))
        .exclude(Exists(waiting))
        .order_by(F("roster_checked_at").asc(nulls_first=True), "pk")
    )


def represent_sync_municipality(*, municipality: Municipality) -> DirectoryImport | None:
    """Sync one council's roster from its Represent set.

    No change: the roster is marked checked, nothing is recorded. A small change is applied
    and recorded (DONE); a large one is recorded for approval (REVIEW), replacing an older one
    still waiting for the same council. Raises RepresentError when Represent cannot be read.
    """
    plan, _municipality = represent_plan(
        set_slug=municipality.represent_set, municipality=municipality
    )
    if not plan.has_changes:
        roster_plan_apply(plan=plan)
        return None
    reasons = approval_reasons(plan, limit=settings.REPRESENT_SYNC_MAX_AUTO_CHANGES)
    with transaction.atomic():
        for older in DirectoryImport.objects.select_for_update().filter(
            municipality=municipality,
            source=DirectoryImport.Source.REPRESENT,
            status=DirectoryImport.Status.REVIEW,
        ):
            older.mark_outdated(message=str(municipality))
        job = DirectoryImport(
            source=DirectoryImport.Source.REPRESENT,
            file_name=municipality.represent_set,
            municipality=municipality,
            rows_total=plan.rows,
            started_at=timezone.now(),
        )
        job.mark_review(plan=plan, reasons=reasons)
        if reasons:
            logger.info("Represent sync of %s waits for approval: %s", municipality, reasons)
            return job
        try:
            roster_plan_apply(plan=plan)
        except RosterOutdated:
            # The roster changed while Represent was read: the next run plans again.
            job.mark_outdated(message=str(municipality))
            return job
        job.mark_done()
    logger.info(
        "Represent sync of %s applied: %s new, %s changed, %s retired",
        municipality,
        plan.created,
        plan.updated,
        plan.deactivated,
    )
    return job


def represent_sync_due(*, budget_seconds: float) -> int:
    """Sync the councils due (municipalities_due_for_sync), oldest first, until
    budget_seconds have passed; the rest wait for the next run. Returns how many were synced.

    Runs only while it holds SYNC_LOCK_KEY, and only with a working cache: the cache is what
    keeps every process's requests to Represent under its limit.
    """
    lock = cache.add(SYNC_LOCK_KEY, 1, timeout=int(budget_seconds) + 120)
    if not lock:
        logger.info(
            "Represent sync skipped: %s", "already running" if lock is False else "no cache"
        )
        return 0
    started = time.monotonic()
    synced = 0
    try:
        for municipality in municipalities_due_for_sync():
            if time.monotonic() - started >= budget_seconds:
                break
            try:
                represent_sync_municipality(municipality=municipality)
            except represent.RepresentError as exc:
                logger.warning("Represent sync of %s failed: %s", municipality, exc)
                if isinstance(exc, represent.RepresentUnavailable):
                    break  # Represent asks everyone to wait: the next run carries on
                continue
            synced += 1
    finally:
        cache.delete(SYNC_LOCK_KEY)
    return synced
