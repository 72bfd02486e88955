import csv
import datetime
import io

import pytest
import requests
from django.core.exceptions import ValidationError
from django.utils import timezone
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from councils.models import PostcodeAnswer, PostcodePrefix
from councils.selectors import (
    FSA_HINTS_FILE,
    municipality_choices,
    postcode_normalise,
    province_from_postcode,
)
from councils.services import postcode_lookup
from tests.factories import MunicipalityFactory, WardFactory

pytestmark = pytest.mark.django_db

OTTAWA = "ocd-division/country:ca/csd:3506008"
TORONTO = "ocd-division/country:ca/csd:3520005"
GATINEAU = "ocd-division/country:ca/csd:2481017"


@pytest.fixture
def ottawa():
    return MunicipalityFactory(ocd_id=OTTAWA, csd_code="3506008", name="Ottawa", province="ON")


@pytest.fixture
def somerset(ottawa):
    return WardFactory(
        municipality=ottawa, ocd_id=f"{OTTAWA}/ward:14", name="Somerset", number="14"
    )


@pytest.fixture
def toronto():
    return MunicipalityFactory(ocd_id=TORONTO, csd_code="3520005", name="Toronto", province="ON")


@pytest.fixture
def represent_on(settings, fake_represent):
    settings.REPRESENT_LOOKUP_ENABLED = True
    return fake_represent


# --- Validation -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw", ["k1a0b1", "K1A 0B1", " k1a 0b1 ", "K1A0B1", "K1A-0B1", "k1a - 0b1", "K1A\u20130B1"]
)
def test_it_normalises_postal_codes(raw):
    assert postcode_normalise(raw) == "K1A 0B1"


@pytest.mark.parametrize("raw", ["", "12345", "K1A 0B", "D1A 0B1", "K1A-0B1X", "hello"])
def test_it_rejects_invalid_postal_codes_with_a_clear_message(raw):
    with pytest.raises(ValidationError) as excinfo:
        postcode_lookup(postal_code=raw)
    message = " ".join(excinfo.value.messages)
    assert "postal code" in message
    if raw:
        assert "K1A 0B1" in message


# --- Province step ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "province"),
    [
        ("X0A 0H0", "NU"),
        ("X0B 1B0", "NU"),
        ("X0C 0A0", "NU"),
        ("X0E 0N0", "NT"),
        ("X0G 0A0", "NT"),
        ("X1A 2P3", "NT"),
        ("A1C 5M2", "NL"),
        ("H2X 1Y4", "QC"),
        ("V6B 1A1", "BC"),
        ("Y1A 1B1", "YT"),
        ("C1A 1A1", "PE"),
    ],
)
def test_it_falls_back_to_the_province_from_the_first_characters(code, province):
    result = postcode_lookup(postal_code=code)
    assert result.step == "province"
    assert result.province == province
    assert result.candidates == []
    assert not result.is_decided


def test_an_x_code_outside_the_known_prefixes_ends_with_no_province():
    assert province_from_postcode("X9Z 9Z9") is None
    result = postcode_lookup(postal_code="X9Z 9Z9")
    assert (result.step, result.province, result.candidates) == ("none", None, [])


def test_the_province_narrows_the_municipality_picker():
    iqaluit = MunicipalityFactory(name="Iqaluit", province="NU")
    MunicipalityFactory(name="Yellowknife", province="NT")
    result = postcode_lookup(postal_code="X0A 0H0")
    assert list(municipality_choices(province=result.province)) == [iqaluit]


# --- FSA step ---------------------------------------------------------------------------------


def test_the_first_three_characters_table_answers(ottawa, somerset):
    PostcodePrefix.objects.create(fsa="K1P", municipality=ottawa, ward=somerset)
    result = postcode_lookup(postal_code="k1p1j1")
    assert result.step == "fsa"
    assert result.postal_code == "K1P 1J1"
    assert result.is_decided
    assert result.candidates[0].municipality == ottawa
    assert result.candidates[0].ward == somerset
    assert result.province == "ON"


def test_several_municipalities_for_one_prefix_let_the_resident_choose(ottawa):
    gatineau = MunicipalityFactory(ocd_id=GATINEAU, name="Gatineau", province="QC")
    PostcodePrefix.objects.create(fsa="K1A", municipality=ottawa)
    PostcodePrefix.objects.create(fsa="K1A", municipality=gatineau)
    result = postcode_lookup(postal_code="K1A 0B1")
    assert result.step == "fsa"
    assert not result.is_decided
    assert [c.municipality for c in result.candidates] == [gatineau, ottawa]
    assert result.province == "ON"  # from the letter, as the candidates disagree


def test_inactive_municipalities_are_never_candidates(ottawa):
    reserve = MunicipalityFactory(name="Reserve", classification="IRI", active=False)
    PostcodePrefix.objects.create(fsa="K1P", municipality=reserve)
    result = postcode_lookup(postal_code="K1P 1J1")
    assert result.step == "province"


# --- Represent step ---------------------------------------------------------------------------


def test_represent_is_not_asked_unless_enabled(fake_represent, ottawa):
    fake_represent.add("/postcodes/K1P1J1/", "represent_postcode_K1P1J1.json")
    result = postcode_lookup(postal_code="K1P 1J1")
    assert result.step == "province"
    assert fake_represent.calls == []


def test_represent_answers_with_municipality_and_ward_from_the_concordance(
    represent_on, ottawa, somerset
):
    represent_on.add("/postcodes/K1P1J1/", "represent_postcode_K1P1J1.json")
    result = postcode_lookup(postal_code="K1P 1J1")
    assert result.step == "represent"
    assert result.is_decided
    assert result.candidates[0].municipality == ottawa
    assert result.candidates[0].ward == somerset
    assert represent_on.calls == ["https://represent.test/postcodes/K1P1J1/"]


def test_represent_falls_back_to_the_centroid_when_there_is_no_concordance(represent_on, toronto):
    ward = WardFactory(
        municipality=toronto,
        ocd_id=f"{TORONTO}/ward:10-2018",
        name="Spadina-Fort York",
        number="10",
    )
    WardFactory(
        municipality=toronto,
        ocd_id=f"{TORONTO}/ward:10-2010",
        name="York Centre (10)",
        number="10",
        valid_through=datetime.date(2017, 12, 31),
    )
    represent_on.add("/postcodes/M5V3L9/", "represent_postcode_M5V3L9.json")
    result = postcode_lookup(postal_code="M5V 3L9")
    assert result.step == "represent"
    assert result.candidates[0].municipality == toronto
    assert result.candidates[0].ward == ward


def test_represent_can_name_several_municipalities(represent_on):
    gatineau = MunicipalityFactory(
        ocd_id=GATINEAU, csd_code="2481017", name="Gatineau", province="QC"
    )
    val = MunicipalityFactory(csd_code="2482015", name="Val-des-Monts", province="QC")
    represent_on.add("/postcodes/J9H5C1/", "represent_postcode_J9H5C1.json")
    result = postcode_lookup(postal_code="J9H 5C1")
    assert result.step == "represent"
    assert [c.municipality for c in result.candidates] == [gatineau, val]
    assert result.province == "QC"


def test_a_represent_answer_is_cached_and_reused(represent_on, ottawa, somerset):
    represent_on.add("/postcodes/K1P1J1/", "represent_postcode_K1P1J1.json")
    postcode_lookup(postal_code="K1P 1J1")
    answer = PostcodeAnswer.objects.get(postal_code="K1P 1J1")
    assert answer.candidates == [{"municipality": OTTAWA, "ward": f"{OTTAWA}/ward:14"}]
    second = postcode_lookup(postal_code="k1p1j1")
    assert second.step == "cache"
    assert second.candidates[0].ward == somerset
    assert len(represent_on.calls) == 1


def test_a_stale_cached_answer_is_asked_again(represent_on, ottawa, somerset):
    PostcodeAnswer.objects.create(
        postal_code="K1P 1J1",
        candidates=[{"municipality": OTTAWA, "ward": None}],
        fetched_at=timezone.now() - datetime.timedelta(days=400),
    )
    represent_on.add("/postcodes/K1P1J1/", "represent_postcode_K1P1J1.json")
    result = postcode_lookup(postal_code="K1P 1J1")
    assert result.step == "represent"
    assert result.candidates[0].ward == somerset


def test_the_cache_answers_even_with_represent_switched_off(ottawa):
    PostcodeAnswer.objects.create(
        postal_code="K1P 1J1", candidates=[{"municipality": OTTAWA, "ward": None}]
    )
    result = postcode_lookup(postal_code="K1P1J1")
    assert (result.step, result.candidates[0].municipality) == ("cache", ottawa)


@pytest.mark.parametrize(
    "failure",
    [
        requests.ConnectionError("connection refused"),
        requests.Timeout("read timed out"),
        500,
        404,
    ],
)
def test_represent_trouble_falls_through_without_an_error(represent_on, ottawa, failure):
    PostcodePrefix.objects.create(fsa="K1P", municipality=ottawa)
    represent_on.add("/postcodes/K1P1J1/", failure)
    result = postcode_lookup(postal_code="K1P 1J1")
    assert result.step == "fsa"
    assert result.candidates[0].municipality == ottawa
    assert not PostcodeAnswer.objects.exists()


def test_represent_down_with_503_falls_through_at_once(represent_on, ottawa, monkeypatch):
    waits = []
    monkeypatch.setattr("councils.represent.time.sleep", waits.append)
    represent_on.add("/postcodes/K1P1J1/", 503)
    result = postcode_lookup(postal_code="K1P 1J1")
    assert result.step == "province"
    assert result.province == "ON"
    assert waits == []  # a resident is waiting: no back-off here, the next step answers
    assert len(represent_on.calls) == 1


def test_a_represent_answer_naming_only_a_reserve_falls_through(represent_on):
    MunicipalityFactory(csd_code="4718802", name="Montreal Lake 106", province="SK", active=False)
    represent_on.add("/postcodes/S0J1L0/", "represent_postcode_S0J1L0.json")
    result = postcode_lookup(postal_code="S0J 1L0")
    assert (result.step, result.province) == ("province", "SK")


def test_a_garbled_represent_answer_falls_through(represent_on, monkeypatch):
    from tests.councils.conftest import FakeResponse

    monkeypatch.setattr(
        "councils.represent.requests.get",
        lambda *a, **k: FakeResponse(200, ValueError("not json")),
    )
    assert postcode_lookup(postal_code="K1P 1J1").step == "province"


# --- The picker -------------------------------------------------------------------------------


def test_the_picker_matches_names_without_accents_in_either_language():
    montreal = MunicipalityFactory(name="Montréal", name_fr="Montréal", province="QC")
    trois = MunicipalityFactory(name="Three Rivers", name_fr="Trois-Rivières", province="QC")
    MunicipalityFactory(name="Reserve", province="QC", active=False)
    assert list(municipality_choices(query="montreal")) == [montreal]
    assert list(municipality_choices(query="MONTRÉAL")) == [montreal]
    assert list(municipality_choices(query="rivieres")) == [trois]
    assert list(municipality_choices(province="QC")) == [montreal, trois]
    assert list(municipality_choices(province="ON", query="montreal")) == []


# --- Property: every valid code gets an answer -------------------------------------------------

VALID_FIRST = "ABCEGHJKLMNPRSTVXY"
VALID_OTHER = "ABCEGHJKLMNPRSTVWXYZ"


@hypothesis_settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    first=st.sampled_from(VALID_FIRST),
    digits=st.tuples(*[st.integers(0, 9)] * 3),
    letters=st.tuples(*[st.sampled_from(VALID_OTHER)] * 2),
    lower=st.booleans(),
    space=st.sampled_from(["", " ", "  "]),
)
def test_every_valid_code_is_normalised_and_answered(db, first, digits, letters, lower, space):
    raw = f"{first}{digits[0]}{letters[0]}{space}{digits[1]}{letters[1]}{digits[2]}"
    result = postcode_lookup(postal_code=raw.lower() if lower else raw)
    assert result.postal_code == raw.replace(" ", "")[:3] + " " + raw.replace(" ", "")[3:]
    assert result.step in {"province", "none"}
    assert (result.province is None) == (result.step == "none")
    assert result.step == "province" or first == "X"


def test_a_shipped_hint_suggests_a_municipality_without_deciding():
    montreal = MunicipalityFactory(
        ocd_id="ocd-division/country:ca/csd:2466023", name="Montréal", province="QC"
    )
    result = postcode_lookup(postal_code="H2Y 1C6")
    assert (result.step, result.province) == ("hint", "QC")
    assert [c.municipality for c in result.candidates] == [montreal]
    assert not result.is_decided


def test_a_hint_naming_an_inactive_municipality_is_skipped():
    MunicipalityFactory(ocd_id="ocd-division/country:ca/csd:2466023", province="QC", active=False)
    result = postcode_lookup(postal_code="H2Y 1C6")
    assert (result.step, result.candidates) == ("province", [])


def test_the_shipped_hints_hold_prefixes_and_municipalities_only():
    hints = FSA_HINTS_FILE.read_text(encoding="utf-8")
    assert hints.splitlines()[0] == "fsa,ocd_id"
    assert "@" not in hints and len(hints.splitlines()) < 100
    rows = list(csv.DictReader(io.StringIO(hints)))
    assert {row["fsa"] for row in rows} >= {"H2Y", "E1C"}
    assert all(row["ocd_id"].startswith("ocd-division/country:ca/csd:") for row in rows)
