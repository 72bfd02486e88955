import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from councils.import_representatives import representatives_import_file
from councils.models import Municipality, Representative, Role
from tests.factories import MunicipalityFactory, RepresentativeFactory, WardFactory

from .conftest import FIXTURES

pytestmark = pytest.mark.django_db

GATINEAU = "ocd-division/country:ca/csd:2481017"
# The 2013 files do not say which municipality they are for.
FIXTURE_MUNICIPALITIES = {
    "ca_ab_edmonton.json": "4811061",
    "ca_nb_moncton.json": "1307022",
    "ca_ns_cape_breton.json": "1217030",
    "ca_on_guelph.json": "3523008",
    "ca_on_toronto.json": "3520005",
    "ca_qc_gatineau.json": "2481017",
    "ca_qc_montreal.json": "2466023",
    "ca_qc_quebec.json": "2423027",
}


@pytest.fixture
def gatineau():
    municipality = MunicipalityFactory(
        ocd_id=GATINEAU, csd_code="2481017", name="Gatineau", name_fr="Gatineau", province="QC"
    )
    for number, name in [
        ("2", "Lucerne"),
        ("3", "Deschênes"),
        ("6", "Manoir-des-Trembles—Val-Tétreau"),
        ("9", "Orée-du-Parc"),
        ("13", "Versant"),
    ]:
        WardFactory(
            municipality=municipality,
            ocd_id=f"{GATINEAU}/district:{number}",
            name=name,
            number=number,
        )
    return municipality


def test_it_imports_every_2013_represent_file(real_directory, shared_data):
    folder = shared_data / "fixtures" / "represent-json-2013"
    files = sorted(folder.glob("*.json"))
    assert [f.name for f in files] == sorted(FIXTURE_MUNICIPALITIES)
    for path in files:
        municipality = Municipality.objects.get(csd_code=FIXTURE_MUNICIPALITIES[path.name])
        people = json.loads(path.read_text(encoding="utf-8"))
        summary = representatives_import_file(path_or_url=str(path), municipality=municipality)
        assert summary.created + len(summary.skipped) == len(people), path.name
        assert all("listed twice" in reason for _, reason in summary.skipped), summary.skipped
        reps = Representative.objects.filter(municipality=municipality)
        # Cape Breton's 2013 roster has its twelve district councillors and no mayor.
        mayors = 0 if path.name == "ca_ns_cape_breton.json" else 1
        assert reps.filter(role=Role.MAYOR).count() == mayors, path.name
        assert all(r.source == Representative.Source.REPRESENT for r in reps)
        assert all(r.last_verified for r in reps)
        assert all(r.name == r.name.strip() and "  " not in r.name for r in reps)
        assert not reps.filter(name__contains="Ã")

    toronto = Representative.objects.filter(municipality__csd_code="3520005")
    assert toronto.get(role=Role.MAYOR).ward is None
    # Every Toronto councillor landed in a ward despite the "Toronto " prefix on district names.
    assert toronto.filter(role=Role.COUNCILLOR, ward__isnull=True).count() == 0
    cho = toronto.get(name="Raymond Cho")
    assert cho.ward.ocd_id.endswith("/ward:42-2010")
    assert cho.phone == "416-392-4076"
    assert cho.email_kind == Representative.EmailKind.PERSONAL
    assert "\r" not in json.dumps(cho.offices)

    moncton = Representative.objects.filter(municipality__csd_code="1307022")
    assert moncton.get(name="René Pepsi Landry").ward.number == "4"
    assert moncton.get(name="Paul A. Pellerin").phone == "961-3444"
    assert moncton.get(role=Role.MAYOR).email_kind == Representative.EmailKind.OFFICE

    quebec = Representative.objects.filter(municipality__csd_code="2423027")
    assert quebec.filter(email="").count() == 27
    assert quebec.get(role=Role.MAYOR).name == "Régis Labeaume"
    assert quebec.exclude(role=Role.MAYOR).filter(ward__kind="borough").count() == 26
    assert quebec.filter(phone__contains="ext.").exists()

    edmonton = Representative.objects.filter(municipality__csd_code="4811061")
    mayor = edmonton.get(role=Role.MAYOR)
    assert mayor.email == ""
    assert mayor.contact_url.startswith("http")
    assert (
        Representative.objects.filter(municipality__csd_code="2466023").get(role=Role.MAYOR).email
        == "maire@ville.montreal.qc.ca"
    )
    assert (
        Representative.objects.filter(municipality__csd_code="1217030")
        .filter(ward__isnull=False)
        .count()
        == 12
    )


def test_reimporting_a_2013_file_changes_nothing(real_directory, shared_data, capsys):
    path = shared_data / "fixtures" / "represent-json-2013" / "ca_on_guelph.json"
    args = [str(path), "--municipality", "ocd-division/country:ca/csd:3523008"]
    call_command("import_representatives", *args)
    first = {r.pk: (r.name, r.ward_id, r.email, r.phone) for r in Representative.objects.all()}
    capsys.readouterr()
    call_command("import_representatives", *args)
    out = capsys.readouterr().out
    assert "0 created, 0 updated, 13 unchanged, 0 deactivated" in out
    assert "nothing changed" in out
    assert {r.pk: (r.name, r.ward_id, r.email, r.phone) for r in Representative.objects.all()} == (
        first
    )


def test_it_reads_french_headers_semicolons_and_a_bom(gatineau):
    summary = representatives_import_file(
        path_or_url=str(FIXTURES / "representatives_fr_bom_semicolon.csv"), municipality=gatineau
    )
    assert summary.created == 5
    mayor = Representative.objects.get(role=Role.MAYOR)
    assert (mayor.first_name, mayor.last_name, mayor.name) == (
        "Marie",
        "Tremblay",
        "Marie Tremblay",
    )
    assert mayor.role_text == "Mairesse"
    assert mayor.ward is None
    assert mayor.phone == "819-555-0100 ext. 2"
    assert mayor.email_kind == Representative.EmailKind.OFFICE
    assert mayor.source == Representative.Source.CSV
    assert mayor.offices[0]["postal"].startswith("25, rue Laurier")
    julie = Representative.objects.get(first_name="Julie")
    assert julie.last_name == "Bouchard-O'Neil"  # "Nom" is the last name; ALL CAPS fixed
    assert julie.role == Role.COUNCILLOR
    assert julie.ward.name == "Lucerne"
    assert julie.phone == "819-555-0102"
    # The name wins over a number that was renumbered since.
    assert Representative.objects.get(last_name="Côté").ward.name == "Orée-du-Parc"
    assert Representative.objects.get(last_name="Côté").first_name == "Jean Luc"
    assert Representative.objects.get(last_name="Ménard").role == Role.OTHER


def test_it_reports_bad_rows_with_line_numbers_and_carries_on(gatineau):
    summary = representatives_import_file(
        path_or_url=str(FIXTURES / "representatives_fr_bom_semicolon.csv"), municipality=gatineau
    )
    assert summary.skipped == [(5, "vacant seat (Vacant)"), (8, "no name")]
    assert "line 6: invalid email “pas-un-courriel” dropped" in summary.notes
    levesque = Representative.objects.get(last_name="Lévesque")
    assert levesque.email == ""  # imported anyway: residents get the phone
    assert levesque.phone == "819-555-0103"


def test_it_reads_windows_1252_files(gatineau):
    summary = representatives_import_file(
        path_or_url=str(FIXTURES / "representatives_fr_cp1252_semicolon.csv"),
        municipality=gatineau,
    )
    assert summary.created == 4
    assert Representative.objects.get(last_name="Lévesque").ward.name == "Deschênes"
    assert Representative.objects.filter(last_name="Ménard", first_name="Luc").exists()
    english = representatives_import_file(
        path_or_url=str(FIXTURES / "representatives_en_cp1252.csv"), municipality=gatineau
    )
    assert Representative.objects.get(first_name="Hélène").last_name == "Côté"
    assert english.skipped == [(5, "vacant seat (To be determined)")]


def test_reimport_updates_in_place_and_retires_everyone_no_longer_listed(gatineau, capsys):
    manual = RepresentativeFactory(
        municipality=gatineau,
        first_name="Clerk",  # not a random name: the test looks people up by first name
        last_name="Office",
        name="Clerk",
        email="clerk@gatineau.ca",
        source=Representative.Source.MANUAL,
    )
    path = str(FIXTURES / "representatives_fr_bom_semicolon.csv")
    call_command("import_representatives", path, "--municipality", GATINEAU)
    # The file is the council's roster now: someone added by hand and not in it is retired
    # too (the plan lists them first).
    assert "  - Clerk, Councillor [added by hand]" in capsys.readouterr().out
    assert not Representative.objects.get(pk=manual.pk).active
    julie = Representative.objects.get(first_name="Julie")
    julie.bounce_count = 3
    julie.save()
    capsys.readouterr()
    # The English file lists the mayor (new title and email), Julie and Hélène Côté only.
    call_command(
        "import_representatives",
        str(FIXTURES / "representatives_en_cp1252.csv"),
        "--municipality",
        GATINEAU,
    )
    out = capsys.readouterr().out
    assert "1 created, 2 updated, 0 unchanged, 3 deactivated, 1 skipped" in out
    assert "skipped line 5: vacant seat (To be determined)" in out
    mayor = Representative.objects.get(role=Role.MAYOR)
    assert mayor.email == "mayor@gatineau.example.org"
    assert Representative.objects.filter(first_name="Marie").count() == 1
    julie.refresh_from_db()
    assert julie.phone == "819-555-0102 ext. 12"
    assert julie.bounce_count == 3  # same address: the bounce history stays
    assert not Representative.objects.get(last_name="Lévesque").active


def test_it_finds_the_municipality_from_the_locality_column(gatineau):
    MunicipalityFactory(name="Gatineau", province="ON")  # same name elsewhere: province decides
    summary = representatives_import_file(
        path_or_url=str(FIXTURES / "representatives_fr_bom_semicolon.csv")
    )
    assert summary.created == 5
    assert summary.skipped == [(5, "vacant seat (Vacant)"), (8, "no name")]
    assert Representative.objects.filter(municipality=gatineau).count() == 5


def test_it_follows_represent_pages_when_given_a_url(gatineau, fake_represent):
    fake_represent.add(
        "/representatives/conseil-municipal-de-gatineau/",
        "represent_representatives_gatineau_page1.json",
        "represent_representatives_gatineau_page2.json",
    )
    base = "https://represent.test/representatives/conseil-municipal-de-gatineau/"
    summary = representatives_import_file(path_or_url=base, municipality=gatineau)
    assert summary.created == 3
    assert fake_represent.calls == [
        base,
        base + "?limit=2&offset=2",
    ]
    levesque = Representative.objects.get(name="Paul Lévesque")
    assert levesque.ward.name == "Deschênes"
    assert levesque.phone == "819-555-0103 ext. 3"
    assert levesque.source == Representative.Source.REPRESENT
    assert levesque.source_url == "https://gatineau.example.org/conseil"


def test_it_notes_unread_pages_of_a_local_json_file(gatineau):
    summary = representatives_import_file(
        path_or_url=str(FIXTURES / "represent_representatives_gatineau_page1.json"),
        municipality=gatineau,
    )
    assert summary.created == 2
    assert any("were not read" in note for note in summary.notes)


def test_the_command_rejects_an_unknown_municipality():
    with pytest.raises(CommandError, match="No municipality"):
        call_command(
            "import_representatives",
            str(FIXTURES / "representatives_en_cp1252.csv"),
            "--municipality",
            "ocd-division/country:ca/csd:9999999",
        )


def test_the_command_rejects_a_csv_without_name_columns(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("foo,bar\n1,2\n")
    with pytest.raises(CommandError, match="Last name"):
        call_command("import_representatives", str(bad))


def test_it_reports_rows_whose_locality_is_not_in_the_directory(db):
    summary = representatives_import_file(
        path_or_url=str(FIXTURES / "representatives_en_cp1252.csv")
    )
    assert summary.created == 0
    reason = (
        "No municipality named “Gatineau” in QC is in the directory. Check the spelling in "
        "the Locality and Province columns."
    )
    assert summary.skipped == [
        (2, reason),
        (3, reason),
        (4, reason),
        (5, "vacant seat (To be determined)"),
    ]
    assert not Representative.objects.exists()


def test_an_ocd_district_id_places_the_row_and_picks_the_ward(gatineau, tmp_path):
    path = tmp_path / "people.csv"
    path.write_text(
        "District name,District ID,Primary role,First name,Last name,Email\n"
        f"Somewhere,{GATINEAU}/district:13,Councillor,Ann,Lee,ann@example.org\n",
        encoding="utf-8",
    )
    summary = representatives_import_file(path_or_url=str(path))
    assert summary.created == 1
    ann = Representative.objects.get()
    assert (ann.municipality, ann.ward.name) == (gatineau, "Versant")
