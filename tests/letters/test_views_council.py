# ruff: noqa: F811  (pytest fixtures imported from journey_helpers)
"""The council step against the whole country's directory, as `make run` has it: every postal
code ends with the resident's municipality, or a short list that holds it."""

import pytest

from campaigns.models import Campaign
from councils.models import Municipality, Role
from tests.factories import RepresentativeFactory
from tests.letters.journey_helpers import (  # noqa: F401
    campaign,
    choose_council,
    journey_settings,
    picker_options,
    picker_widget,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("journey_settings", "country")]

COUNCIL = "/campaigns/cams/council/"


def html_of(response) -> str:
    assert response.status_code == 200, response.status_code
    return response.content.decode()


def labels(response) -> list[str]:
    return [label for label, _preselected in picker_options(html_of(response))]


def pk_of(csd_code: str) -> str:
    return str(Municipality.objects.get(csd_code=csd_code).pk)


# --- The table of issue 13: one test per postal code --------------------------------------------


@pytest.mark.parametrize("typed", ["M5V-2T6", "m5v-2t6", "M5V2T6", " m5v 2t6 ", "m5v 2t6"])
def test_m5v_2t6_goes_to_toronto_however_it_is_typed(client, campaign, typed):
    response = choose_council(client, campaign, postal_code=typed)
    assert response.status_code == 302
    assert response["Location"] == "/campaigns/cams/write/"
    assert "Toronto" in client.get("/campaigns/cams/write/").content.decode()


def test_k1a_0b1_lists_ottawa_once_beside_gatineau(client, campaign):
    response = choose_council(client, campaign, postal_code="K1A 0B1")
    assert picker_options(html_of(response)) == [("Gatineau", False), ("Ottawa", False)]
    assert picker_widget(response.content.decode()) == "radio"
    # The whole province below the suggestions still names Ottawa only once.
    everything = labels(client.post(COUNCIL, {"action": "all", "q": ""}))
    assert everything.count("Ottawa") == 1
    assert everything[:2] == ["Gatineau", "Ottawa"]
    assert "Toronto" in everything


def test_h2y_1c6_offers_montreal_preselected(client, campaign):
    response = choose_council(client, campaign, postal_code="H2Y 1C6")
    assert picker_options(html_of(response)) == [("Montréal", True)]
    response = client.post(COUNCIL, {"action": "pick", "q": "", "municipality": pk_of("2466023")})
    assert response["Location"] == "/campaigns/cams/write/"


def test_e1c_4m3_offers_moncton_preselected(client, campaign):
    response = choose_council(client, campaign, postal_code="E1C 4M3")
    assert picker_options(html_of(response)) == [("Moncton", True)]


def test_s4p_3y2_offers_every_municipality_of_saskatchewan_with_regina(client, campaign):
    response = choose_council(client, campaign, postal_code="S4P 3Y2")
    offered = labels(response)
    assert picker_widget(response.content.decode()) == "select"
    assert "Regina" in offered and "Saskatoon" in offered
    assert len(offered) == Municipality.objects.filter(province="SK").count() > 700
    searched = picker_options(html_of(client.post(COUNCIL, {"action": "search", "q": "regina"})))
    assert ("Regina", True) in searched  # the exact name, preselected beside Regina Beach
    assert [label for label, chosen in searched if chosen] == ["Regina"]


def test_l5b_3c1_offers_mississauga_and_finds_it_by_name(client, campaign):
    offered = labels(choose_council(client, campaign, postal_code="L5B 3C1"))
    assert "Mississauga" in offered and "Ottawa" in offered
    assert "Peel" not in offered  # residents choose their local council
    searched = client.post(COUNCIL, {"action": "search", "q": "Mississauga"})
    assert picker_options(html_of(searched)) == [("Mississauga", True)]
    response = client.post(
        COUNCIL, {"action": "pick", "q": "Mississauga", "municipality": pk_of("3521005")}
    )
    assert response["Location"] == "/campaigns/cams/write/"


# --- The picker ---------------------------------------------------------------------------------


def test_a_search_without_a_match_says_so_and_offers_the_whole_province(client, campaign):
    choose_council(client, campaign, postal_code="L5B 3C1")
    html = html_of(client.post(COUNCIL, {"action": "search", "q": "xyz"}))
    assert "No municipality matches “xyz” in Ontario." in html
    offered = [label for label, _chosen in picker_options(html)]
    assert "Mississauga" in offered
    assert len(offered) == Municipality.objects.filter(province="ON", lower_tiers=None).count()


def test_a_search_matches_without_accents_or_case_in_either_language(client, campaign):
    choose_council(client, campaign, postal_code="H2Y 1C6")
    found = labels(client.post(COUNCIL, {"action": "search", "q": "MONTREAL"}))
    assert found[0] == "Montréal"
    choose_council(client, campaign, postal_code="E1C 4M3")
    assert labels(client.post(COUNCIL, {"action": "search", "q": "grand-sault"})) == ["Grand Falls"]


def test_a_pick_from_the_whole_province_is_taken_after_a_hint(client, campaign):
    # H3X is a Montréal borough's, and Hampstead's too: the hint is only a suggestion.
    choose_council(client, campaign, postal_code="H3X 1A1")
    everything = labels(client.post(COUNCIL, {"action": "all", "q": ""}))
    assert everything[0] == "Montréal" and "Hampstead" in everything
    hampstead = pk_of("2466107")
    response = client.post(COUNCIL, {"action": "pick", "q": "", "municipality": hampstead})
    assert response["Location"] == "/campaigns/cams/write/"


def test_a_pick_outside_the_province_is_refused(client, campaign):
    choose_council(client, campaign, postal_code="L5B 3C1")
    response = client.post(COUNCIL, {"action": "pick", "q": "", "municipality": pk_of("2466023")})
    assert "Choose your municipality from the list." in html_of(response)


def test_places_of_one_name_are_told_apart(client, campaign):
    choose_council(client, campaign, postal_code="L5B 3C1")
    hamiltons = labels(client.post(COUNCIL, {"action": "search", "q": "hamilton"}))
    assert hamiltons == ["Hamilton (township, Northumberland)", "Hamilton (city)"]
    choose_council(client, campaign, postal_code="G1R 4S9")  # Québec City, from the demo
    client.post(COUNCIL, {"action": "all", "q": ""})
    elzear = labels(client.post(COUNCIL, {"action": "search", "q": "saint-elzear"}))
    assert elzear == [
        "Saint-Elzéar (municipality, Bonaventure)",
        "Saint-Elzéar (municipality, La Nouvelle-Beauce)",
        "Saint-Elzéar-de-Témiscouata",
    ]


def test_the_no_match_message_is_translated(client, campaign, french_catalog):
    french_catalog(
        "No municipality matches “%(query)s” in %(province)s.",
        "Aucune municipalité ne correspond à « %(query)s » (%(province)s).",
    )
    client.get("/fr/campaigns/cams/council/", {"postal_code": "E1C 4M3"})
    html = html_of(client.post("/fr/campaigns/cams/council/", {"action": "search", "q": "xyz"}))
    assert "Aucune municipalité ne correspond à « xyz » (Nouveau-Brunswick)." in html


def test_the_picker_lists_french_names_in_french(client, campaign):
    client.get("/fr/campaigns/cams/council/", {"postal_code": "E1C 4M3"})
    html = html_of(client.post("/fr/campaigns/cams/council/", {"action": "search", "q": "xyz"}))
    assert 'role="status"' in html and "xyz" in html
    offered = [label for label, _chosen in picker_options(html)]
    assert "Grand-Sault" in offered and "Grand Falls" not in offered


# --- Two-tier places ------------------------------------------------------------------------------


@pytest.fixture
def peel_people():
    mississauga = Municipality.objects.get(csd_code="3521005")
    peel = mississauga.upper_tier
    return {
        "mayor": RepresentativeFactory(
            municipality=mississauga, role=Role.MAYOR, name="Mayor of Mississauga"
        ),
        "chair": RepresentativeFactory(municipality=peel, role=Role.MAYOR, name="Chair of Peel"),
        "regional": RepresentativeFactory(
            municipality=peel, role=Role.COUNCILLOR, name="Peel Councillor"
        ),
    }


def _letter_step_for_mississauga(client, campaign) -> str:
    choose_council(client, campaign, postal_code="L5B 3C1")
    client.post(COUNCIL, {"action": "pick", "q": "", "municipality": pk_of("3521005")})
    return client.get("/campaigns/cams/write/").content.decode()


def test_a_two_tier_place_writes_to_its_local_council_by_default(client, campaign, peel_people):
    html = _letter_step_for_mississauga(client, campaign)
    assert "Mayor of Mississauga" in html
    assert "Chair of Peel" not in html and "Peel Councillor" not in html


def test_a_campaign_can_add_the_regional_council(client, campaign, peel_people):
    campaign.include_upper_tier = True
    campaign.save()
    html = _letter_step_for_mississauga(client, campaign)
    assert "Mayor of Mississauga" in html
    assert "Chair of Peel" in html and "Peel Councillor" in html
    assert html.index("Mayor of Mississauga") < html.index("Chair of Peel")


def test_the_campaign_setting_is_off_by_default(campaign):
    assert Campaign._meta.get_field("include_upper_tier").default is False
    assert campaign.recipient_rule()["include_upper_tier"] is False


@pytest.mark.parametrize("value", ["²", "١٢", "1 OR 1=1", "99999999999999999999", "-1", "12:"])
def test_a_forged_pick_is_refused_with_a_message(client, campaign, value):
    choose_council(client, campaign, postal_code="L5B 3C1")
    response = client.post(COUNCIL, {"action": "pick", "q": "", "municipality": value})
    assert "Choose your municipality from the list." in html_of(response)
