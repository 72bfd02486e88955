import pytest

from councils.models import Representative, Role
from councils.selectors import recipients_for
from tests.factories import MunicipalityFactory, RepresentativeFactory, WardFactory

pytestmark = pytest.mark.django_db

TARGET = [Role.MAYOR, Role.COUNCILLOR]


@pytest.fixture
def council():
    town = MunicipalityFactory(name="Ottawa")
    wards = [WardFactory(municipality=town, name=f"Ward {n:02d}") for n in range(1, 25)]
    councillors = [
        RepresentativeFactory(municipality=town, ward=ward, last_name=f"Councillor{n:02d}")
        for n, ward in enumerate(wards)
    ]
    mayor = RepresentativeFactory(municipality=town, role=Role.MAYOR, last_name="Zed")
    return town, wards, councillors, mayor


def test_it_returns_the_whole_council_mayor_first_in_two_queries_at_most(
    council, django_assert_max_num_queries
):
    town, _wards, councillors, mayor = council
    with django_assert_max_num_queries(1):
        recipients = recipients_for(municipality=town, roles=TARGET)
        # Templates read the ward and municipality: already loaded.
        labels = [(r.name, r.ward.name if r.ward else "", r.municipality.name) for r in recipients]
    assert recipients[0] == mayor
    assert recipients[1:] == councillors
    assert len(labels) == 25


def test_the_query_count_does_not_grow_with_the_council(django_assert_num_queries):
    town = MunicipalityFactory()
    RepresentativeFactory.create_batch(103, municipality=town)
    with django_assert_num_queries(1):
        assert len(recipients_for(municipality=town, roles=TARGET)) == 103


def test_it_keeps_only_target_roles_and_active_people(council):
    town, _, councillors, mayor = council
    deputy = RepresentativeFactory(municipality=town, role=Role.DEPUTY_MAYOR)
    Representative.objects.filter(pk=councillors[0].pk).update(active=False)
    other_town = RepresentativeFactory(role=Role.MAYOR)
    recipients = recipients_for(municipality=town, roles=[Role.MAYOR, Role.DEPUTY_MAYOR])
    assert recipients == [mayor, deputy]
    assert other_town not in recipients
    assert councillors[0] not in recipients_for(municipality=town, roles=TARGET)


def test_mayor_and_ward_only_gives_the_mayor_and_the_wards_councillor(
    council, django_assert_max_num_queries
):
    town, wards, councillors, mayor = council
    with django_assert_max_num_queries(2):
        recipients = recipients_for(
            municipality=town, roles=TARGET, ward=wards[3], mayor_and_ward_only=True
        )
    assert recipients == [mayor, councillors[3]]


def test_mayor_and_ward_only_without_a_ward_gives_the_whole_council(council):
    town, _, councillors, mayor = council
    recipients = recipients_for(municipality=town, roles=TARGET, mayor_and_ward_only=True)
    assert recipients == [mayor, *councillors]


def test_mayor_and_ward_only_never_leaves_the_resident_with_nobody(
    council, django_assert_max_num_queries
):
    town, _wards, councillors, _ = council
    empty_ward = WardFactory(municipality=town, name="Ward 99")
    with django_assert_max_num_queries(2):
        recipients = recipients_for(
            municipality=town, roles=[Role.COUNCILLOR], ward=empty_ward, mayor_and_ward_only=True
        )
    assert recipients == councillors


def test_people_without_a_working_email_are_still_listed(council):
    town, _, councillors, mayor = council
    no_email = RepresentativeFactory(
        municipality=town, email="", phone="613-555-0112", last_name="Councillor99"
    )
    bouncing = councillors[0]
    bouncing.bounce_count = Representative.BOUNCE_LIMIT
    bouncing.save()
    recipients = recipients_for(municipality=town, roles=TARGET)
    assert no_email in recipients and bouncing in recipients
    assert not no_email.can_email
    assert recipients[recipients.index(bouncing)].email_flagged
    assert mayor.can_email


def test_the_order_is_stable_across_roles(council):
    town, _, _councillors, mayor = council
    regional = RepresentativeFactory(municipality=town, role=Role.REGIONAL_COUNCILLOR)
    deputy = RepresentativeFactory(municipality=town, role=Role.DEPUTY_MAYOR)
    roles = [Role.COUNCILLOR, Role.REGIONAL_COUNCILLOR, Role.DEPUTY_MAYOR, Role.MAYOR]
    recipients = recipients_for(municipality=town, roles=roles)
    assert recipients[:3] == [mayor, deputy, regional]
    assert recipients == recipients_for(municipality=town, roles=list(reversed(roles)))


# --- How representatives are named to residents ----------------------------------------------


@pytest.mark.parametrize(
    ("name", "title", "label"),
    [
        ("Jane Doe", "Councillor", "Jane Doe, Councillor"),
        # The directory's placeholders and some sources put the title in the name: once only.
        ("Mayor of Toronto", "Mayor", "Mayor of Toronto"),
        ("Deputy Mayor of Toronto", "Deputy Mayor", "Deputy Mayor of Toronto"),
        (
            "Councillor, Ward 10 Spadina-Fort York",
            "Councillor",
            "Councillor, Ward 10 Spadina-Fort York",
        ),
        ("Conseillère, district de Deschênes", "conseillere", "Conseillère, district de Deschênes"),
        # A word that merely starts like the title is not the title.
        ("Maya Mayorga", "Mayor", "Maya Mayorga, Mayor"),
        ("Marie Tremblay", "", "Marie Tremblay"),
    ],
)
def test_labels_never_repeat_the_title(name, title, label):
    from councils.models import person_label

    assert person_label(name, title) == label


def test_a_representatives_label_uses_the_published_role():
    rep = RepresentativeFactory.build(name="Mayor of Toronto", role=Role.MAYOR, role_text="Mayor")
    assert rep.label == "Mayor of Toronto"
    rep = RepresentativeFactory.build(name="Ana Silva", role=Role.COUNCILLOR, role_text="")
    assert rep.label == "Ana Silva, Councillor"


@pytest.fixture
def two_tier():
    peel = MunicipalityFactory(
        ocd_id="ocd-division/country:ca/cd:3521", csd_code="", name="Peel", classification="RM"
    )
    mississauga = MunicipalityFactory(name="Mississauga", classification="CY", upper_tier=peel)
    ward = WardFactory(municipality=mississauga, name="Ward 4")
    return {
        "mississauga": mississauga,
        "ward": ward,
        "mayor": RepresentativeFactory(municipality=mississauga, role=Role.MAYOR),
        "local": RepresentativeFactory(municipality=mississauga, ward=ward),
        "other_ward": RepresentativeFactory(municipality=mississauga),
        "chair": RepresentativeFactory(municipality=peel, role=Role.MAYOR, last_name="Chair"),
        "regional": RepresentativeFactory(
            municipality=peel, role=Role.REGIONAL_COUNCILLOR, last_name="Regional"
        ),
        "peel_councillor": RepresentativeFactory(municipality=peel, last_name="Peel"),
    }


def test_a_two_tier_place_writes_to_its_local_council_only_by_default(two_tier):
    recipients = recipients_for(municipality=two_tier["mississauga"], roles=TARGET)
    assert {r.municipality.name for r in recipients} == {"Mississauga"}


def test_the_upper_tier_can_be_added_after_the_local_council(
    two_tier, django_assert_max_num_queries
):
    with django_assert_max_num_queries(2):
        recipients = recipients_for(
            municipality=two_tier["mississauga"], roles=TARGET, include_upper_tier=True
        )
    assert recipients == [
        two_tier["mayor"],
        two_tier["other_ward"],  # councillors without a ward come before the wards'
        two_tier["local"],
        two_tier["chair"],
        two_tier["peel_councillor"],  # in the campaign's roles only: no regional councillor
    ]


def test_the_ward_narrows_the_local_council_not_the_upper_tier(two_tier):
    recipients = recipients_for(
        municipality=two_tier["mississauga"],
        roles=TARGET,
        ward=two_tier["ward"],
        mayor_and_ward_only=True,
        include_upper_tier=True,
    )
    assert recipients == [
        two_tier["mayor"],
        two_tier["local"],
        two_tier["chair"],
        two_tier["peel_councillor"],
    ]


def test_a_single_tier_place_is_unchanged_by_the_setting(council):
    town = council[0]
    assert recipients_for(municipality=town, roles=TARGET, include_upper_tier=True) == (
        recipients_for(municipality=town, roles=TARGET)
    )
