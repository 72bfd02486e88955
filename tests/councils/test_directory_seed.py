"""The shipped directory (councils/seed/municipalities.csv and fsa_hints.csv) and its loading
in `make run` (load_demo)."""

import csv
from datetime import date

import pytest
from django.core.management import call_command

from councils.demo_data import demo_data_load
from councils.import_municipalities import (
    INACTIVE_CLASSIFICATIONS,
    SEED_FILE,
    municipalities_seed_load,
)
from councils.models import Municipality, PostcodePrefix, Representative, Ward

PEEL = "ocd-division/country:ca/cd:3521"
MISSISSAUGA = "ocd-division/country:ca/csd:3521005"
MONTREAL = "ocd-division/country:ca/csd:2466023"


def seed_rows() -> dict[str, dict]:
    with SEED_FILE.open(encoding="utf-8", newline="") as rows:
        return {row["id"]: row for row in csv.DictReader(rows)}


# --- The file ---------------------------------------------------------------------------------


def test_the_seed_holds_only_councils():
    rows = seed_rows()
    municipalities = [row for ocd_id, row in rows.items() if ocd_id.count("/") == 2]
    assert len(municipalities) > 3600
    classifications = {row["classification"] for row in municipalities}
    assert not classifications & set(INACTIVE_CLASSIFICATIONS)
    assert "IRI" not in classifications and "NO" not in classifications
    assert not [row for row in municipalities if row["classification"] in {"RDA", "SNO", "TI"}]


def test_the_seed_has_upper_tiers_and_their_links():
    rows = seed_rows()
    assert rows[PEEL]["name"] == "Peel"
    assert rows[MISSISSAUGA]["parent_id"] == PEEL
    assert rows[MONTREAL]["name_fr"] == "Montréal"
    assert rows["ocd-division/country:ca/csd:1307022"]["name_fr"] == "Moncton"
    assert rows["ocd-division/country:ca/csd:1312019"]["name_fr"] == "Grand-Sault"


def test_the_seed_has_only_current_wards():
    wards = [ocd_id for ocd_id in seed_rows() if ocd_id.count("/") == 3]
    toronto = [w for w in wards if w.startswith("ocd-division/country:ca/csd:3520005/")]
    assert len(toronto) == 25 and all(w.endswith("-2018") for w in toronto)
    edmonton = [w for w in wards if w.startswith("ocd-division/country:ca/csd:4811061/")]
    assert len(edmonton) == 12
    assert "ocd-division/country:ca/csd:4811061/ward:1" not in wards  # ended 2020-12-06


def test_the_seed_ships_no_people():
    header = SEED_FILE.read_text(encoding="utf-8").splitlines()[0]
    assert "email" not in header and "phone" not in header


# --- Loading it -------------------------------------------------------------------------------


@pytest.mark.django_db
def test_loading_the_seed_makes_the_whole_country():
    municipalities, wards = municipalities_seed_load()
    assert municipalities.created == Municipality.objects.count() > 3600
    assert wards.created == Ward.objects.count() > 2900
    assert not Municipality.objects.filter(classification="IRI").exists()
    mississauga = Municipality.objects.get(ocd_id=MISSISSAUGA)
    assert mississauga.upper_tier.ocd_id == PEEL
    assert mississauga.upper_tier.kind == "regional municipality"
    assert mississauga.kind == "city"
    montreal = Municipality.objects.get(ocd_id=MONTREAL)
    assert (montreal.name_fr, montreal.province, montreal.upper_tier) == ("Montréal", "QC", None)
    # Québec's regional county municipalities and BC's regional districts are upper tiers.
    elzear = Municipality.objects.get(csd_code="2405077")
    assert (elzear.upper_tier.name, elzear.upper_tier.kind) == (
        "Bonaventure",
        "regional county municipality",
    )
    assert Municipality.objects.get(csd_code="5915022").upper_tier.name == "Greater Vancouver"
    # A Nova Scotia county municipality is a council of its own, with its districts.
    annapolis = Municipality.objects.get(ocd_id="ocd-division/country:ca/cd:1205")
    assert annapolis.active and annapolis.wards.count() == 11
    assert all(ward.is_current(date.today()) for ward in Ward.objects.all())


@pytest.mark.django_db
def test_loading_the_seed_again_changes_nothing_and_keeps_edits():
    municipalities_seed_load()
    toronto = Municipality.objects.get(csd_code="3520005")
    toronto.name_fr = "Toronto (edited)"
    toronto.active = False
    toronto.save()
    Ward.objects.filter(municipality=toronto).first().delete()
    municipalities, wards = municipalities_seed_load()
    assert (municipalities.created, municipalities.updated) == (0, 0)
    assert (wards.created, wards.updated) == (1, 0)  # only what was missing comes back
    toronto.refresh_from_db()
    assert (toronto.name_fr, toronto.active) == ("Toronto (edited)", False)


@pytest.mark.django_db
def test_the_demo_people_join_their_real_municipalities():
    municipalities_seed_load()
    before = Municipality.objects.count()
    demo_data_load()
    assert Municipality.objects.count() == before
    toronto = Municipality.objects.get(csd_code="3520005")
    assert toronto.organization_name == "City of Toronto"
    assert toronto.website == "https://www.toronto.ca"  # a blank filled in by the demo
    assert toronto.representatives.filter(name="Mayor of Toronto").exists()
    assert PostcodePrefix.objects.filter(fsa="M5V", municipality=toronto).exists()
    for rep in Representative.objects.exclude(email=""):
        assert rep.email.split("@")[1].endswith(".example.org"), rep.email


@pytest.mark.django_db
def test_load_demo_is_idempotent(capsys):
    call_command("load_demo")
    first = capsys.readouterr().out
    assert "Council directory: 3635 municipalities and 2964 wards added" in first
    counts = [m.objects.count() for m in (Municipality, Ward, Representative, PostcodePrefix)]
    call_command("load_demo")
    again = capsys.readouterr().out
    assert "Council directory: 0 municipalities and 0 wards added" in again
    assert counts == [
        m.objects.count() for m in (Municipality, Ward, Representative, PostcodePrefix)
    ]
