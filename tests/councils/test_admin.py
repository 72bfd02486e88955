from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from councils.models import DirectoryImport, Municipality, PostcodePrefix, Representative
from letters.groups import STAFF, groups_ensure
from tests.factories import MunicipalityFactory, RepresentativeFactory, UserFactory, WardFactory

from .conftest import FIXTURES

pytestmark = pytest.mark.django_db

GATINEAU = "ocd-division/country:ca/csd:2481017"


@pytest.fixture
def gatineau():
    town = MunicipalityFactory(
        ocd_id=GATINEAU, csd_code="2481017", name="Gatineau", name_fr="Gatineau", province="QC"
    )
    WardFactory(municipality=town, ocd_id=f"{GATINEAU}/district:2", name="Lucerne", number="2")
    return town


def test_every_directory_page_renders(staff_client, gatineau):
    rep = RepresentativeFactory(municipality=gatineau)
    PostcodePrefix.objects.create(fsa="J8X", municipality=gatineau)
    ward = gatineau.wards.get()
    for url in [
        reverse("admin:councils_municipality_changelist"),
        reverse("admin:councils_municipality_change", args=[gatineau.pk]),
        reverse("admin:councils_ward_changelist"),
        reverse("admin:councils_ward_change", args=[ward.pk]),
        reverse("admin:councils_representative_changelist"),
        reverse("admin:councils_representative_change", args=[rep.pk]),
        reverse("admin:councils_representative_upload"),
        reverse("admin:councils_postcodeprefix_changelist"),
        reverse("admin:councils_postcodeanswer_changelist"),
    ]:
        assert staff_client.get(url).status_code == 200, url


def test_municipality_search_ignores_accents(staff_client):
    MunicipalityFactory(name="Montréal", name_fr="Montréal", province="QC")
    MunicipalityFactory(name="Toronto")
    url = reverse("admin:councils_municipality_changelist")
    response = staff_client.get(url, {"q": "montreal"})
    assert [m.name for m in response.context["cl"].result_list] == ["Montréal"]
    response = staff_client.get(url, {"q": "MONTRÉAL"})
    assert response.context["cl"].result_count == 1


def test_municipality_list_counts_active_representatives(staff_client, gatineau):
    RepresentativeFactory.create_batch(3, municipality=gatineau)
    RepresentativeFactory(municipality=gatineau, active=False)
    response = staff_client.get(reverse("admin:councils_municipality_changelist"))
    row = next(m for m in response.context["cl"].result_list if m.pk == gatineau.pk)
    assert row.rep_count == 3


def test_municipality_filters_by_province_active_and_missing_email(staff_client, gatineau):
    toronto = MunicipalityFactory(name="Toronto", province="ON")
    MunicipalityFactory(name="Reserve", province="ON", active=False)
    RepresentativeFactory(municipality=gatineau, email="")
    RepresentativeFactory(municipality=toronto)
    url = reverse("admin:councils_municipality_changelist")

    def names(**params):
        return sorted(m.name for m in staff_client.get(url, params).context["cl"].result_list)

    assert names(province__exact="ON", active__exact="1") == ["Toronto"]
    assert names(missing_email="yes") == ["Gatineau"]


def test_representative_filters_find_missing_bouncing_and_stale(staff_client, gatineau):
    now = timezone.now()
    RepresentativeFactory(municipality=gatineau, name="No Email", email="", last_verified=now)
    RepresentativeFactory(municipality=gatineau, name="Bouncing", bounce_count=3, last_verified=now)
    RepresentativeFactory(
        municipality=gatineau, name="Stale", last_verified=now - timedelta(days=400)
    )
    RepresentativeFactory(municipality=gatineau, name="Fine", last_verified=now)
    url = reverse("admin:councils_representative_changelist")

    def names(**params):
        return sorted(r.name for r in staff_client.get(url, params).context["cl"].result_list)

    assert names(email_state="missing") == ["No Email"]
    assert names(email_state="bouncing") == ["Bouncing"]
    assert names(stale="yes") == ["Stale"]
    assert names(stale="no") == ["Bouncing", "Fine", "No Email"]


def test_representative_search_ignores_accents(staff_client, gatineau):
    RepresentativeFactory(municipality=gatineau, name="Paulette Thériault")
    RepresentativeFactory(municipality=gatineau, name="Someone Else")
    response = staff_client.get(
        reverse("admin:councils_representative_changelist"), {"q": "theriault"}
    )
    assert [r.name for r in response.context["cl"].result_list] == ["Paulette Thériault"]


def test_the_csv_upload_shows_the_changes_then_applies_them(staff_client, gatineau):
    data = (FIXTURES / "representatives_fr_bom_semicolon.csv").read_bytes()
    response = staff_client.post(
        reverse("admin:councils_representative_upload"),
        {
            "file": SimpleUploadedFile("conseil.csv", data, content_type="text/csv"),
            "municipality": gatineau.pk,
        },
        follow=True,
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert "5 new, 0 changed, 0 retired, 0 unchanged" in page
    assert "vacant seat (Vacant)" in page
    assert not Representative.objects.exists()
    job = DirectoryImport.objects.get()
    staff_client.post(reverse("admin:councils_representative_upload_apply", args=[job.pk]))
    assert Representative.objects.filter(municipality=gatineau).count() == 5


def test_the_upload_explains_a_file_it_cannot_read(staff_client):
    response = staff_client.post(
        reverse("admin:councils_representative_upload"),
        {"file": SimpleUploadedFile("x.csv", b"foo,bar\n1,2\n", content_type="text/csv")},
    )
    assert response.status_code == 200
    assert "Last name" in response.context["form"].errors["file"][0]
    assert not Representative.objects.exists()
    assert not DirectoryImport.objects.exists()


def test_the_upload_is_for_staff_who_may_change_representatives(client, user):
    user.is_staff = True
    user.save()
    client.force_login(user)
    response = client.get(reverse("admin:councils_representative_upload"))
    assert response.status_code == 403
    assert Municipality.objects.count() == 0


def test_the_reset_bounces_action_makes_an_address_usable_again(staff_client, gatineau):
    bouncing = RepresentativeFactory(municipality=gatineau, bounce_count=3)
    fine = RepresentativeFactory(municipality=gatineau)
    assert not bouncing.can_email
    response = staff_client.post(
        reverse("admin:councils_representative_changelist"),
        {"action": "reset_bounces", "_selected_action": [bouncing.pk, fine.pk]},
        follow=True,
    )
    assert "Bounce count reset for 1 representatives." in response.content.decode()
    bouncing.refresh_from_db()
    assert bouncing.bounce_count == 0
    assert bouncing.can_email


def staff_member(client):
    groups_ensure()
    member = UserFactory(is_staff=True, username="staff-member")
    member.groups.add(Group.objects.get(name=STAFF))
    client.force_login(member)
    return client


def test_staff_cannot_reset_bounce_counts(client, gatineau):
    staff_member(client)
    bouncing = RepresentativeFactory(municipality=gatineau, bounce_count=3)

    response = client.post(
        reverse("admin:councils_representative_changelist"),
        {"action": "reset_bounces", "_selected_action": [bouncing.pk]},
    )

    assert response.status_code == 200
    assert response.context["action_form"] is None
    bouncing.refresh_from_db()
    assert bouncing.bounce_count == 3


def test_staff_cannot_import_representatives(client, gatineau):
    staff_member(client)
    upload = SimpleUploadedFile("x.csv", b"foo,bar\n1,2\n", content_type="text/csv")

    page = client.get(reverse("admin:councils_representative_upload"))
    response = client.post(reverse("admin:councils_representative_upload"), {"file": upload})

    assert page.status_code == 403
    assert response.status_code == 403
    assert not Representative.objects.exists()
