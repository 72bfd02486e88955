"""Import one representative set from Open North's Represent API (represent.opennorth.ca),
through the same plan as the Open North CSV and Represent JSON files."""

from django.db import transaction
from django.utils.text import slugify

from . import represent
from .import_representatives import representatives_plan, roster_plan_apply
from .models import Municipality, Representative
from .roster_plan import RosterPlan
from .sources import RawRepresentative, SourceError, representatives_from_json


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
