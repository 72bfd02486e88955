"""Load the demo councils (councils/seed/demo.json): real municipalities, wards and postal code
prefixes with role-based placeholder representatives."""

import json
from pathlib import Path

from django.db import transaction
from django.utils import timezone

from .cleaning import email_kind
from .models import Municipality, PostcodePrefix, Representative, Ward

DEMO_FILE = Path(__file__).resolve().parent / "seed" / "demo.json"
# The demo's facts about a municipality that the directory seed does not carry.
DEMO_EXTRAS = ("website", "represent_set")


@transaction.atomic
def demo_data_load(*, path: Path = DEMO_FILE) -> tuple[int, int]:
    """Load demo municipalities, wards, postal-code prefixes and role-based placeholder
    representatives (example.org-style addresses, no real person). Safe to run again.

    Placeholders are only added to municipalities with no imported representatives, so the
    demo never mixes with real data. Municipalities already in the directory (from
    councils.import_municipalities.municipalities_seed_load, which load_demo runs first) keep
    their fields; only a blank website or Represent set is filled in. Returns
    (municipalities, representatives) in the demo.
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
        else:
            # Loaded from the directory seed, which has no websites or Represent sets: fill
            # those in where blank, and leave everything else as the organizer has it.
            blanks = [
                name for name in DEMO_EXTRAS if item.get(name) and not getattr(municipality, name)
            ]
            for name in blanks:
                setattr(municipality, name, item[name])
            if blanks:
                municipality.save(update_fields=blanks)
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
