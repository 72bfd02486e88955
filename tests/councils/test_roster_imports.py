"""Imports replace a council's roster, after a preview of what changes (issue 13)."""

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.urls import reverse

from councils.demo_data import demo_data_load
from councils.import_representatives import (
    RosterOutdated,
    representatives_import_file,
    representatives_plan_file,
    roster_plan_apply,
)
from councils.models import DirectoryImport, Municipality, Representative, Role
from councils.roster_plan import RosterPlan, plan_preview
from councils.selectors import recipients_for
from councils.services import ImportDecided, directory_import_apply
from letters.models import Delivery
from tests.factories import MunicipalityFactory, RepresentativeFactory, WardFactory
from tests.letters.delivery_helpers import make_letter

from .conftest import FIXTURES

pytestmark = pytest.mark.django_db

HALIFAX = "ocd-division/country:ca/csd:1209034"
GATINEAU = "ocd-division/country:ca/csd:2481017"
# The Represent CSV schema's header (shared/data/represent/represent_csv_schema_template.csv).
REPRESENT_HEADER = (
    "District name,District ID,Primary role,First name,Last name,Gender,Party name,Email,"
    "Photo URL,Source URL,Website,Address line 1,Address line 2,Locality,Province,Postal code,"
    "Phone,Fax,Cell,Facebook,Twitter\n"
)
# Made-up people at a reserved domain: no real person's contact details.
HALIFAX_CSV = REPRESENT_HEADER + (
    "Halifax,,Mayor,Pat,Harbour,,,pat.harbour@hrm.test,,,,1841 Argyle Street,,Halifax,NS,"
    "B3J 3A5,902-555-0101,,,,\n"
    "District 7,,Councillor,Sam,Citadel,,,sam.citadel@hrm.test,,,,,,Halifax,NS,,"
    "902-555-0107,,,,\n"
)


def upload(client, name: str, text: str, municipality=None, **extra):
    data = {"file": SimpleUploadedFile(name, text.encode(), content_type="text/csv")}
    if municipality is not None:
        data["municipality"] = municipality.pk
    return client.post(reverse("admin:councils_representative_upload"), data, **extra)


def apply_url(job) -> str:
    return reverse("admin:councils_representative_upload_apply", args=[job.pk])


# --- The Halifax import ----------------------------------------------------------------------


def test_a_represent_csv_for_halifax_retires_the_demo_placeholders(staff_client):
    demo_data_load()
    halifax = Municipality.objects.get(ocd_id=HALIFAX)
    placeholders = list(halifax.representatives.all())
    assert len(placeholders) == 2
    assert all(rep.is_placeholder for rep in placeholders)

    response = upload(staff_client, "halifax.csv", HALIFAX_CSV)  # no municipality chosen

    job = DirectoryImport.objects.get()
    assert response["Location"] == reverse(
        "admin:councils_representative_upload_job", args=[job.pk]
    )
    page = staff_client.get(response["Location"]).content.decode()
    assert "Halifax (NS)" in page
    assert "2 new, 0 changed, 2 retired, 0 unchanged" in page
    assert "Mayor of Halifax" in page
    assert page.count("demo placeholder") == 2
    assert Representative.objects.filter(municipality=halifax, active=True).count() == 2

    page = staff_client.post(apply_url(job), follow=True).content.decode()

    assert "The changes were applied." in page
    mayors = [
        rep
        for rep in recipients_for(municipality=halifax, roles=[Role.MAYOR, Role.COUNCILLOR])
        if rep.role == Role.MAYOR
    ]
    assert [rep.name for rep in mayors] == ["Pat Harbour"]
    assert not Representative.objects.filter(pk__in=[p.pk for p in placeholders], active=True)
    halifax.refresh_from_db()
    assert halifax.roster_source == "halifax.csv"
    assert halifax.roster_checked_at is not None
    # Loading the demo again adds no placeholder next to the real roster.
    demo_data_load()
    assert halifax.representatives.active().count() == 2


def test_a_roster_replacement_retires_a_placeholder_and_keeps_the_listed(db):
    town = MunicipalityFactory(ocd_id=GATINEAU, name="Gatineau", province="QC")
    placeholder = RepresentativeFactory(
        municipality=town,
        name="Mayor of Gatineau",
        role=Role.MAYOR,
        email="mairie@gatineau.example.org",
    )
    kept = RepresentativeFactory(
        municipality=town, name="Marie Tremblay", role=Role.MAYOR, source=Representative.Source.CSV
    )

    representatives_import_file(
        path_or_url=str(FIXTURES / "representatives_fr_bom_semicolon.csv"), municipality=town
    )

    placeholder.refresh_from_db()
    kept.refresh_from_db()
    assert not placeholder.active
    assert kept.active and kept.email == "mairie@gatineau.example.org"  # listed: updated
    assert [rep.pk for rep in town.representatives.active().filter(role=Role.MAYOR)] == [kept.pk]


# --- Placing rows without a flag ---------------------------------------------------------------


def test_rows_are_placed_by_their_locality_without_choosing_a_municipality(staff_client):
    gatineau = MunicipalityFactory(ocd_id=GATINEAU, name="Gatineau", province="QC")
    halifax = MunicipalityFactory(ocd_id=HALIFAX, name="Halifax", province="NS")
    text = HALIFAX_CSV + (
        "Gatineau,,Mairesse,Marie,Tremblay,,,mairie@gatineau.test,,,,,,Gatineau,QC,,,,,,\n"
        "Ward 1,,Councillor,Ann,Nowhere,,,ann@nowhere.test,,,,,,Atlantis,NS,,,,,,\n"
    )

    upload(staff_client, "two-councils.csv", text)
    job = DirectoryImport.objects.get()
    page = staff_client.get(
        reverse("admin:councils_representative_upload_job", args=[job.pk])
    ).content.decode()

    assert "Halifax (NS)" in page and "Gatineau (QC)" in page
    assert "1 row placed in no municipality" in page
    assert "No municipality named “Atlantis” in NS is in the directory." in page
    assert "--municipality" not in page
    staff_client.post(apply_url(job))
    assert halifax.representatives.count() == 2
    assert gatineau.representatives.get().name == "Marie Tremblay"
    assert not Representative.objects.filter(last_name="Nowhere").exists()


def test_rows_are_placed_by_their_ocd_ids_without_choosing_a_municipality(staff_client):
    town = MunicipalityFactory(ocd_id=GATINEAU, name="Gatineau", province="QC")
    WardFactory(municipality=town, ocd_id=f"{GATINEAU}/district:13", name="Versant", number="13")
    text = (
        "District name,District ID,Primary role,First name,Last name,Email\n"
        f"Versant,{GATINEAU}/district:13,Conseiller,Ann,Lee,ann@gatineau.test\n"
        f"Gatineau,{GATINEAU},Maire,Marc,Roy,marc@gatineau.test\n"
        "Elsewhere,ocd-division/country:ca/csd:9999999,Councillor,Bo,Gone,bo@x.test\n"
    )

    upload(staff_client, "ocd.csv", text)
    job = DirectoryImport.objects.get()
    plan = RosterPlan.from_json(job.plan)
    staff_client.post(apply_url(job))

    assert [c.municipality for c in plan.councils] == ["Gatineau (QC)"]
    assert plan.unplaced == [
        [4, "unknown_ocd_id", {"ocd_id": "ocd-division/country:ca/csd:9999999"}]
    ]
    ann = Representative.objects.get(last_name="Lee")
    assert (ann.municipality, ann.ward.name) == (town, "Versant")
    assert Representative.objects.get(last_name="Roy").role == Role.MAYOR


def test_a_row_naming_no_municipality_says_how_to_place_it(staff_client):
    text = "Primary role,First name,Last name\nCouncillor,Ann,Lee\n"
    upload(staff_client, "bare.csv", text)
    job = DirectoryImport.objects.get()
    page = staff_client.get(
        reverse("admin:councils_representative_upload_job", args=[job.pk])
    ).content.decode()
    assert "This row names no municipality: it has no Locality and no OCD id" in page
    assert not re.search(r"\s--[a-z]", page)


# --- The preview, and applying it --------------------------------------------------------------


@pytest.fixture
def gatineau_roster(db):
    town = MunicipalityFactory(ocd_id=GATINEAU, name="Gatineau", province="QC")
    lucerne = WardFactory(municipality=town, name="Lucerne", number="2")
    WardFactory(municipality=town, name="Deschênes", number="3")
    marie = RepresentativeFactory(
        municipality=town,
        name="Marie Tremblay",
        first_name="Marie",
        last_name="Tremblay",
        role=Role.MAYOR,
        role_text="Mairesse",
        email="old.mairie@gatineau.test",
        source=Representative.Source.CSV,
    )
    julie = RepresentativeFactory(
        municipality=town,
        name="Julie Bouchard",
        first_name="Julie",
        last_name="Bouchard",
        role_text="Conseillère",
        ward=lucerne,
        email="julie.bouchard@gatineau.example.org",
        phone="819-555-0102",
        contact_url="https://gatineau.example.org/conseil",
        photo_url="",
        source_url="https://gatineau.example.org/conseil",
        source=Representative.Source.REPRESENT,
        offices=[{"type": "legislature", "tel": "819-555-0102", "postal": "x"}],
    )
    gone = RepresentativeFactory(
        municipality=town, name="Old Timer", source=Representative.Source.CSV
    )
    return town, marie, julie, gone


def test_the_preview_lists_new_changed_and_retired_and_applying_matches_it(
    gatineau_roster, fake_represent
):
    town, marie, _julie, gone = gatineau_roster
    fake_represent.add(
        "/representatives/conseil-municipal-de-gatineau/",
        "represent_representatives_gatineau_page1.json",
        "represent_representatives_gatineau_page2.json",
    )
    url = "https://represent.test/representatives/conseil-municipal-de-gatineau/"

    plan = representatives_plan_file(path_or_url=url, municipality=town)
    preview = plan_preview(plan)

    (council,) = preview["councils"]
    assert council["counts"] == {"new": 1, "changed": 2, "unchanged": 0, "retired": 1}
    assert [p["name"] for p in council["new"]] == ["Paul Lévesque"]
    changed = {p["name"]: p["changes"] for p in council["changed"]}
    assert ("email", "old.mairie@gatineau.test", "mairie@gatineau.example.org") in changed[
        "Marie Tremblay"
    ]
    assert ("source", "csv", "represent") in changed["Marie Tremblay"]
    assert [p["name"] for p in council["retired"]] == ["Old Timer"]
    assert Representative.objects.get(pk=marie.pk).email == "old.mairie@gatineau.test"

    roster_plan_apply(plan=RosterPlan.from_json(plan.to_json()))  # as stored for review

    active = {rep.name: rep for rep in town.representatives.active()}
    assert set(active) == {"Marie Tremblay", "Julie Bouchard", "Paul Lévesque"}
    for entry in plan.councils[0].changed + plan.councils[0].new:
        rep = active[entry["values"]["name"]]
        for field, value in entry["values"].items():
            assert getattr(rep, field) == value, field
    assert not Representative.objects.get(pk=gone.pk).active
    assert Representative.objects.count() == 4


def test_a_plan_made_before_another_change_is_refused(gatineau_roster):
    town, marie, _julie, _gone = gatineau_roster
    plan = representatives_plan_file(
        path_or_url=str(FIXTURES / "representatives_fr_bom_semicolon.csv"), municipality=town
    )
    Representative.objects.filter(pk=marie.pk).update(email="edited@gatineau.test")

    with pytest.raises(RosterOutdated):
        roster_plan_apply(plan=plan)

    assert Representative.objects.get(pk=marie.pk).email == "edited@gatineau.test"
    assert town.representatives.count() == 3


def test_an_import_is_applied_once(staff_client, staff_user, gatineau_roster):
    town, *_ = gatineau_roster
    upload(
        staff_client,
        "c.csv",
        (FIXTURES / "representatives_en_cp1252.csv").read_text("cp1252"),
        town,
    )
    job = DirectoryImport.objects.get()
    assert directory_import_apply(job=job, by=staff_user).status == DirectoryImport.Status.DONE
    with pytest.raises(ImportDecided):
        directory_import_apply(job=job, by=staff_user)
    page = staff_client.post(apply_url(job), follow=True).content.decode()
    assert "This import was already decided." in page


def test_cancelling_an_import_changes_nothing(staff_client, staff_user, gatineau_roster):
    town, marie, *_ = gatineau_roster
    upload(
        staff_client,
        "c.csv",
        (FIXTURES / "representatives_en_cp1252.csv").read_text("cp1252"),
        town,
    )
    job = DirectoryImport.objects.get()
    cancel = reverse("admin:councils_representative_upload_cancel", args=[job.pk])

    page = staff_client.post(cancel, follow=True).content.decode()

    assert "The import was cancelled: nothing was changed." in page
    job.refresh_from_db()
    assert (job.status, job.decided_by) == (DirectoryImport.Status.CANCELLED, staff_user)
    assert Representative.objects.get(pk=marie.pk).email == "old.mairie@gatineau.test"
    assert town.representatives.active().count() == 3


def test_apply_and_cancel_take_post_only_from_those_who_may_import(client, user, gatineau_roster):
    town, *_ = gatineau_roster
    job = DirectoryImport.objects.create(
        file_name="x.csv", municipality=town, status=DirectoryImport.Status.REVIEW
    )
    cancel = reverse("admin:councils_representative_upload_cancel", args=[job.pk])
    assert client.post(apply_url(job))["Location"].startswith(reverse("admin:login"))
    user.is_staff = True
    user.save()
    client.force_login(user)
    assert client.post(apply_url(job)).status_code == 403
    assert client.post(cancel).status_code == 403
    user.is_superuser = True
    user.save()
    assert client.get(apply_url(job)).status_code == 405
    assert client.get(cancel).status_code == 405
    job.refresh_from_db()
    assert job.status == DirectoryImport.Status.REVIEW


# --- --dry-run --------------------------------------------------------------------------------


def test_import_representatives_dry_run_prints_the_plan_and_changes_nothing(
    gatineau_roster, capsys
):
    town, _marie, *_ = gatineau_roster
    before = list(Representative.objects.order_by("pk").values())

    call_command(
        "import_representatives",
        str(FIXTURES / "representatives_en_cp1252.csv"),
        "--municipality",
        GATINEAU,
        "--dry-run",
    )

    out = capsys.readouterr().out
    assert "Gatineau (QC): 2 new, 1 changed, 2 retired, 0 unchanged" in out
    assert "  + Hélène Côté, Councillor (Deschênes) <helene.cote@gatineau.example.org>" in out
    assert "  ~ Marie Tremblay: " in out
    assert "old.mairie@gatineau.test → mayor@gatineau.example.org" in out
    assert "  - Old Timer, Councillor" in out
    assert "Dry run: nothing was changed." in out
    assert list(Representative.objects.order_by("pk").values()) == before
    town.refresh_from_db()
    assert town.roster_checked_at is None


def test_sync_represent_dry_run_prints_the_plan_and_changes_nothing(
    gatineau_roster, fake_represent, capsys
):
    town, *_ = gatineau_roster
    fake_represent.add(
        "/representatives/conseil-municipal-de-gatineau/",
        "represent_representatives_gatineau_page1.json",
        "represent_representatives_gatineau_page2.json",
    )
    before = list(Representative.objects.order_by("pk").values())

    call_command("sync_represent", "conseil-municipal-de-gatineau", "--dry-run")

    out = capsys.readouterr().out
    assert "Gatineau (QC): 1 new, 2 changed, 1 retired, 0 unchanged" in out
    assert "  + Paul Lévesque" in out
    assert "Dry run: nothing was changed." in out
    assert list(Representative.objects.order_by("pk").values()) == before
    town.refresh_from_db()
    assert (town.represent_set, town.roster_checked_at) == ("", None)


def test_each_import_records_when_and_from_what_the_roster_was_checked(gatineau_roster, capsys):
    town, *_ = gatineau_roster
    path = str(FIXTURES / "representatives_en_cp1252.csv")
    call_command("import_representatives", path, "--municipality", GATINEAU)
    town.refresh_from_db()
    assert town.roster_source == path
    assert town.roster_checked_at == town.representatives.active().first().last_verified


# --- Admin messages ------------------------------------------------------------------------------


def test_admin_messages_are_translated_and_name_no_flag(staff_client, french_catalog, settings):
    settings.LANGUAGE_CODE = "fr"  # the admin speaks the site's language
    french_catalog(
        "No municipality named “%(locality)s” in %(province)s is in the directory. Check the "
        "spelling in the Locality and Province columns.",
        "Aucune municipalité nommée « %(locality)s » en %(province)s dans le répertoire.",
    )
    french_catalog("vacant seat (%(name)s)", "siège vacant (%(name)s)")
    french_catalog("The changes were applied.", "Les changements sont appliqués.")
    text = HALIFAX_CSV + "Ward 9,,Councillor,Vacant,,,,,,,,,,Atlantis,NS,,,,,,\n"
    text += "Ward 1,,Councillor,Ann,Nowhere,,,,,,,,,Atlantis,NS,,,,,,\n"
    MunicipalityFactory(ocd_id=HALIFAX, name="Halifax", province="NS")

    response = upload(staff_client, "h.csv", text, follow=True)

    page = response.content.decode()
    assert "Aucune municipalité nommée « Atlantis » en NS dans le répertoire." in page
    assert "siège vacant (Vacant)" in page
    assert not re.search(r"\s--[a-z]", page)  # no command-line flag
    job = DirectoryImport.objects.get()
    page = staff_client.post(apply_url(job), follow=True)
    assert "Les changements sont appliqués." in page.content.decode()


# --- Letters already sent keep their recipients ------------------------------------------------


def test_letters_sent_before_a_replacement_keep_their_exact_recipients(client):
    letter = make_letter(recipients=2, status=Delivery.Status.SENT)
    town = letter.municipality
    before = list(
        letter.deliveries.values_list("recipient_name", "recipient_role", "recipient_email")
    )
    text = "Primary role,First name,Last name,Email\nMayor,New,Mayor,new.mayor@council.test\n"
    path_data = text.encode()

    representatives_import_file(path_or_url="new.csv", data=path_data, municipality=town)

    assert not town.representatives.filter(
        pk__in=letter.deliveries.values("representative"), active=True
    )
    after = list(
        letter.deliveries.values_list("recipient_name", "recipient_role", "recipient_email")
    )
    assert after == before
    page = client.get(f"/letters/{letter.token}/").content.decode()
    for name, _role, _email in before:
        assert name in page
    assert "New Mayor" not in page
    # Retired: no "Wrong or outdated contact?" link for them any more.
    assert "Wrong or outdated contact?" not in page
