"""The lookup chain against the whole country's directory and the demo's prefixes, as `make
run` has them: the postal codes of issue 13, one test each."""

import pytest

from councils.models import Municipality
from councils.selectors import municipality_choices
from councils.services import postcode_lookup

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("country")]


def names(result) -> list[str]:
    return [candidate.municipality.name for candidate in result.candidates]


def test_e1c_4m3_suggests_moncton_for_the_resident_to_confirm():
    result = postcode_lookup(postal_code="E1C 4M3")
    assert (result.step, names(result), result.province) == ("hint", ["Moncton"], "NB")
    assert not result.is_decided  # the prefix may cover a neighbour too


def test_s4p_3y2_gives_saskatchewan_where_regina_is_listed():
    result = postcode_lookup(postal_code="S4P 3Y2")
    assert (result.step, result.candidates, result.province) == ("province", [], "SK")
    listed = municipality_choices(province="SK", upper_tiers=False)
    assert listed.filter(name="Regina", classification="CY").exists()


def test_l5b_3c1_gives_ontario_where_mississauga_is_listed_and_peel_is_not():
    result = postcode_lookup(postal_code="L5B 3C1")
    assert (result.step, result.province) == ("province", "ON")
    listed = municipality_choices(province="ON", upper_tiers=False)
    assert [m.name for m in listed.filter(search_name__contains="mississauga")] == ["Mississauga"]
    assert not listed.filter(name="Peel").exists()
    assert municipality_choices(province="ON").filter(name="Peel").exists()  # the admin's list


def test_k1a_0b1_names_ottawa_once_and_gatineau():
    result = postcode_lookup(postal_code="K1A 0B1")
    assert (result.step, names(result)) == ("fsa", ["Gatineau", "Ottawa"])


def test_h2y_1c6_suggests_montreal():
    result = postcode_lookup(postal_code="H2Y 1C6")
    assert (result.step, names(result), result.province) == ("hint", ["Montréal"], "QC")


@pytest.mark.parametrize("typed", ["M5V-2T6", "m5v2t6", " m5v 2t6 "])
def test_m5v_2t6_decides_toronto_and_its_ward(typed):
    result = postcode_lookup(postal_code=typed)
    assert result.postal_code == "M5V 2T6"
    assert result.is_decided and names(result) == ["Toronto"]
    assert result.candidates[0].ward.name == "Spadina-Fort York"


def test_the_organizers_table_wins_over_the_hints():
    montreal = Municipality.objects.get(csd_code="2466023")
    montreal.postcode_prefixes.create(fsa="H2Y")
    result = postcode_lookup(postal_code="H2Y 1C6")
    assert (result.step, result.is_decided) == ("fsa", True)


def test_every_province_and_territory_has_municipalities_to_offer():
    for code, province in [
        ("A1C 5M2", "NL"),
        ("C1A 4P3", "PE"),
        ("B3H 4R2", "NS"),
        ("E1C 4M3", "NB"),
        ("G1R 4S9", "QC"),
        ("K1A 0B1", "ON"),
        ("R3C 4A5", "MB"),
        ("S4P 3Y2", "SK"),
        ("T2P 2M5", "AB"),
        ("V6B 1A1", "BC"),
        ("Y1A 1B2", "YT"),
        ("X1A 2L9", "NT"),
        ("X0A 0H0", "NU"),
    ]:
        result = postcode_lookup(postal_code=code)
        assert result.province == province, code
        assert municipality_choices(province=province, upper_tiers=False).count() >= 10, code
