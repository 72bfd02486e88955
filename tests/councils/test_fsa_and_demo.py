import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from councils.demo_data import demo_data_load
from councils.models import Municipality, PostcodePrefix, Representative, Role, Ward
from councils.selectors import recipients_for
from councils.services import postcode_lookup
from tests.factories import MunicipalityFactory, RepresentativeFactory, WardFactory

pytestmark = pytest.mark.django_db

OTTAWA = "ocd-division/country:ca/csd:3506008"


def test_import_fsa_loads_prefixes_and_is_idempotent(tmp_path, capsys):
    ottawa = MunicipalityFactory(ocd_id=OTTAWA, csd_code="3506008", name="Ottawa")
    somerset = WardFactory(municipality=ottawa, ocd_id=f"{OTTAWA}/ward:14", name="Somerset")
    gatineau = MunicipalityFactory(csd_code="2481017", name="Gatineau", province="QC")
    path = tmp_path / "fsa.csv"
    path.write_text(
        "fsa,ocd_id,ward\n"
        f"K1P,{OTTAWA},{OTTAWA}/ward:14\n"
        f"k1a,{OTTAWA},\n"
        f"K1A,{gatineau.ocd_id},\n"
        "K1Z,ocd-division/country:ca/csd:0000000,\n"
        f"123,{OTTAWA},\n",
        encoding="utf-8",
    )
    call_command("import_fsa", str(path))
    out = capsys.readouterr().out
    assert "3 created" in out
    assert "skipped line 5: unknown municipality" in out
    assert "skipped line 6: not a postal code prefix: '123'" in out
    assert PostcodePrefix.objects.get(fsa="K1P").ward == somerset
    call_command("import_fsa", str(path))
    assert "0 created, 0 updated, 3 unchanged" in capsys.readouterr().out
    assert PostcodePrefix.objects.count() == 3


def test_import_fsa_accepts_census_codes_and_semicolons(tmp_path):
    MunicipalityFactory(csd_code="3506008", name="Ottawa")
    path = tmp_path / "fsa.csv"
    path.write_bytes("\ufefffsa;csd_code\nK1P;3506008\n".encode())
    call_command("import_fsa", str(path))
    assert PostcodePrefix.objects.get().municipality.name == "Ottawa"


def test_import_fsa_rejects_files_without_the_columns(tmp_path):
    path = tmp_path / "fsa.csv"
    path.write_text("prefix,city\nK1P,Ottawa\n")
    with pytest.raises(CommandError, match="fsa"):
        call_command("import_fsa", str(path))


def test_the_demo_loads_real_municipalities_and_placeholder_people():
    municipalities, representatives = demo_data_load()
    assert municipalities >= 7
    assert representatives == Representative.objects.count() >= 20
    names = set(Municipality.objects.values_list("name", flat=True))
    assert {"Toronto", "Montréal", "Calgary", "Edmonton", "Halifax", "Ottawa", "Vancouver"} <= names
    toronto = Municipality.objects.get(name="Toronto")
    assert toronto.ocd_id == "ocd-division/country:ca/csd:3520005"
    assert Ward.objects.filter(municipality=toronto).count() >= 3
    assert Ward.objects.filter(municipality__name="Ottawa").count() >= 3
    # Only placeholder addresses, never a real person's.
    for rep in Representative.objects.exclude(email=""):
        assert rep.email.split("@")[1].endswith(".example.org"), rep.email
    assert Representative.objects.filter(email="").exclude(phone="", contact_url="").exists()
    assert set(Representative.objects.values_list("source", flat=True)) == {"manual"}


def test_the_demo_is_idempotent():
    first = demo_data_load()
    counts = (Municipality.objects.count(), Ward.objects.count(), Representative.objects.count())
    assert demo_data_load() == first
    assert counts == (
        Municipality.objects.count(),
        Ward.objects.count(),
        Representative.objects.count(),
    )


@pytest.mark.parametrize(
    ("code", "city"),
    [
        ("M5V 3L9", "Toronto"),
        ("H2X 1Y4", "Montréal"),
        ("T2P 1J9", "Calgary"),
        ("T5J 2R7", "Edmonton"),
        ("B3H 4R2", "Halifax"),
        ("K1P 1J1", "Ottawa"),
        ("V6B 1A1", "Vancouver"),
    ],
)
def test_the_offline_demo_resolves_downtown_postal_codes(code, city):
    demo_data_load()
    result = postcode_lookup(postal_code=code)
    assert result.step == "fsa"
    assert result.is_decided
    assert result.candidates[0].municipality.name == city


def test_the_demo_has_a_ward_level_answer_and_an_ambiguous_one():
    demo_data_load()
    toronto = postcode_lookup(postal_code="M5V 3L9").candidates[0]
    recipients = recipients_for(
        municipality=toronto.municipality,
        roles=[Role.MAYOR, Role.COUNCILLOR],
        ward=toronto.ward,
        mayor_and_ward_only=True,
    )
    assert [r.name for r in recipients] == [
        "Mayor of Toronto",
        "Councillor, Ward 10 Spadina-Fort York",
    ]
    assert len(postcode_lookup(postal_code="K1A 0B1").candidates) == 2


def test_the_demo_does_not_mix_placeholders_into_imported_councils():
    ottawa = MunicipalityFactory(ocd_id=OTTAWA, csd_code="3506008", name="Ottawa")
    RepresentativeFactory(municipality=ottawa, source=Representative.Source.CSV)
    demo_data_load()
    assert list(ottawa.representatives.values_list("source", flat=True)) == ["csv"]


def test_load_demo_reports_the_demo_directory(capsys):
    call_command("load_demo")
    out = capsys.readouterr().out
    assert "Demo councils: 12 municipalities" in out
