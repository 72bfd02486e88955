import datetime

import pytest
from django.core.management import call_command

from councils.import_municipalities import municipalities_import
from councils.models import Municipality, Ward
from councils.sources import OCD_COUNTRY_CA_URL

pytestmark = pytest.mark.django_db


def test_it_imports_every_canadian_municipality_and_ward(real_directory, shared_data):
    _, wards = real_directory
    path = shared_data / "ocd" / "ca_census_subdivisions.csv"
    csd_rows = len(path.read_text(encoding="utf-8").strip().splitlines()) - 1
    assert Municipality.objects.filter(ocd_id__contains="/csd:").count() == csd_rows
    assert wards.created == Ward.objects.count() > 2500
    toronto = Municipality.objects.get(ocd_id="ocd-division/country:ca/csd:3520005")
    assert (toronto.name, toronto.province, toronto.csd_code) == ("Toronto", "ON", "3520005")
    assert toronto.organization_name == "City of Toronto"
    assert toronto.active
    montreal = Municipality.objects.get(csd_code="2466023")
    assert montreal.council_size == 103
    assert montreal.search_name == "montreal"


def test_it_links_lower_tiers_to_their_upper_tier(real_directory):
    mississauga = Municipality.objects.get(csd_code="3521005")
    assert mississauga.upper_tier.ocd_id == "ocd-division/country:ca/cd:3521"
    assert mississauga.upper_tier.name == "Peel"


def test_it_keeps_reserves_and_unorganized_areas_inactive(real_directory):
    reserve = Municipality.objects.get(csd_code="4718802")  # Montreal Lake 106, IRI
    assert reserve.classification == "IRI"
    assert not reserve.active
    assert not Municipality.objects.filter(classification__in=["IRI", "NO", "RDA"], active=True)
    assert Municipality.objects.filter(classification="MÉ", active=True).count() > 600


def test_it_ends_superseded_ward_sets(real_directory):
    today = datetime.date.today()
    toronto = Ward.objects.filter(municipality__csd_code="3520005")
    current = [ward for ward in toronto if ward.is_current(today)]
    assert len(current) == 25
    assert all(ward.ocd_id.endswith("-2018") for ward in current)
    edmonton = [w for w in Ward.objects.filter(municipality__csd_code="4811061") if w.is_current()]
    assert len(edmonton) == 12
    assert {w.name for w in edmonton} >= {"O-day'min", "Métis"}
    assert (
        Ward.objects.get(ocd_id="ocd-division/country:ca/csd:3520005/ward:10-2018").number == "10"
    )


def test_a_second_import_changes_nothing_and_says_so(real_directory, shared_data, capsys):
    call_command("import_municipalities", str(shared_data / "ocd"))
    out = capsys.readouterr().out
    assert "0 created, 0 updated" in out
    assert "nothing changed" in out.lower()


def test_it_leaves_an_organizers_active_flag_alone_on_reimport(real_directory, shared_data):
    Municipality.objects.filter(csd_code="3520005").update(active=False)
    municipalities, _ = municipalities_import(path_or_url=str(shared_data / "ocd"))
    assert not Municipality.objects.get(csd_code="3520005").active
    assert municipalities.updated == 0


def test_it_reads_the_upstream_file_layout(tmp_path):
    # country-ca.csv has every level in one file and no province column.
    upstream = tmp_path / "country-ca.csv"
    upstream.write_text(
        "id,name,sameAs,validThrough,abbreviation,abbreviation_fr,classification,has_children,"
        "name_fr,number,organization_name,parent_id,posts_count,sgc,url,validFrom\n"
        "ocd-division/country:ca,Canada,,,,,,,,,,,,01,,\n"
        "ocd-division/country:ca/cd:3521,Peel,,,,,RM,,Peel,,,,,,,\n"
        "ocd-division/country:ca/csd:3521005,Mississauga,,,,,CY,Y,Mississauga,,City of Mississauga,"
        "ocd-division/country:ca/cd:3521,12,,,\n"
        "ocd-division/country:ca/csd:3521005/ward:1,Ward 1,,,,,,,,,,,,,,\n"
        "ocd-division/country:ca/csd:6204003,Iqaluit,,,,,CY,,Iqaluit,,City of Iqaluit,,,,,\n",
        encoding="utf-8",
    )
    municipalities, wards = municipalities_import(path_or_url=str(upstream))
    assert (municipalities.created, wards.created) == (3, 1)
    mississauga = Municipality.objects.get(csd_code="3521005")
    assert mississauga.upper_tier.name == "Peel"
    assert mississauga.council_size == 12
    assert Municipality.objects.get(csd_code="6204003").province == "NU"
    assert Ward.objects.get().municipality == mississauga


def test_regional_county_municipalities_and_county_municipalities_are_councils(tmp_path):
    upstream = tmp_path / "country-ca.csv"
    upstream.write_text(
        "id,name,classification,has_children,name_fr,parent_id\n"
        "ocd-division/country:ca/cd:2405,Bonaventure,MRC,,Bonaventure,\n"
        "ocd-division/country:ca/cd:2466,Montréal,TÉ,,Montréal,\n"
        "ocd-division/country:ca/cd:1212,Pictou,CTY,Y,Pictou,\n"
        "ocd-division/country:ca/cd:1213,Guysborough,CTY,N,Guysborough,\n"
        "ocd-division/country:ca/csd:2405077,Saint-Elzéar,MÉ,,Saint-Elzéar,\n"
        "ocd-division/country:ca/csd:2466023,Montréal,V,Y,Montréal,\n",
        encoding="utf-8",
    )
    municipalities_import(path_or_url=str(upstream))
    assert Municipality.objects.get(csd_code="2405077").upper_tier.name == "Bonaventure"
    assert Municipality.objects.get(csd_code="2466023").upper_tier is None
    assert Municipality.objects.get(ocd_id="ocd-division/country:ca/cd:1212").active
    assert not Municipality.objects.filter(name__in=["Montréal", "Guysborough"], csd_code="")


def test_it_fetches_the_upstream_url_by_default(monkeypatch, capsys):
    fetched = []

    class Response:
        content = (
            b"id,name,classification,name_fr\nocd-division/country:ca/csd:6106023,Yellowknife,CY,\n"
        )

        def raise_for_status(self):
            return None

    def fake_get(url, timeout):
        fetched.append(url)
        return Response()

    monkeypatch.setattr("councils.sources.requests.get", fake_get)
    call_command("import_municipalities")
    assert fetched == [OCD_COUNTRY_CA_URL]
    assert OCD_COUNTRY_CA_URL.endswith("/identifiers/country-ca.csv")
    assert Municipality.objects.get().name_fr == "Yellowknife"
    assert "1 created" in capsys.readouterr().out


def test_it_refuses_a_file_that_is_not_ocd_identifiers(tmp_path):
    from django.core.management.base import CommandError

    bad = tmp_path / "bad.csv"
    bad.write_text("name,province\nToronto,ON\n")
    with pytest.raises(CommandError, match="OCD"):
        call_command("import_municipalities", str(bad))


def test_a_dissolved_municipality_is_imported_inactive(tmp_path):
    path = tmp_path / "country-ca.csv"
    path.write_text(
        "id,name,classification,validThrough\n"
        "ocd-division/country:ca/csd:3521010,Brampton,CY,\n"
        "ocd-division/country:ca/csd:2466999,Old Town,V,2001-12-31\n",
        encoding="utf-8",
    )
    municipalities_import(path_or_url=str(path))
    assert Municipality.objects.get(csd_code="3521010").active
    assert not Municipality.objects.get(csd_code="2466999").active
