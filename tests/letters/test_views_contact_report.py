# ruff: noqa: F811  (pytest fixtures imported from journey_helpers)
""" "Wrong or outdated contact?": the link beside each recipient, the public form that files a
report, its limits, and what organizers do with reports in the admin."""

import pytest
from django.test import Client
from django.urls import reverse

from councils.models import ContactReport, Representative
from letters.models import Delivery
from tests.factories import RepresentativeFactory
from tests.letters.delivery_helpers import make_letter
from tests.letters.journey_helpers import (  # noqa: F401
    campaign,
    choose_council,
    council,
    journey_settings,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("journey_settings")]


def report_url(rep, prefix="") -> str:
    return f"{prefix}/contacts/{rep.pk}/report/"


def write_page(client, campaign, prefix="") -> str:
    choose_council(client, campaign, prefix=prefix)
    response = client.get(f"{prefix}/campaigns/{campaign.slug}/write/")
    assert response.status_code == 200
    return response.content.decode()


# --- The links beside each recipient ------------------------------------------------------------


def test_every_recipient_has_a_wrong_contact_link(client, campaign, council):
    page = write_page(client, campaign)
    for rep in [*council["emailable"], council["no_email"]]:
        assert f'href="{report_url(rep)}?next=/campaigns/{campaign.slug}/write/"' in page
    assert page.count("Wrong or outdated contact?") == 4
    # The checkbox stays labelled by the name alone, the link outside its label.
    mayor = council["mayor"]
    assert f'name="recipients" value="{mayor.pk}"' in page
    assert 'class="form-check-label">Mara Mayor</label>' in page


def test_the_recipients_error_still_shows_next_to_the_checkboxes(client, campaign, council):
    choose_council(client, campaign)
    response = client.post(
        f"/campaigns/{campaign.slug}/write/",
        {"first_name": "Jane", "last_name": "Doe", "email": "jane@example.org"},
    )
    page = response.content.decode()
    assert 'class="form-check-input is-invalid"' in page
    assert "Choose at least one recipient." in page
    assert 'href="#id_recipients_0"' in page


def test_the_status_page_links_each_current_recipient_to_the_report_form(client):
    letter = make_letter(recipients=2, status=Delivery.Status.SENT)
    first, second = letter.deliveries.order_by("pk")
    Representative.objects.filter(pk=second.representative_id).update(active=False)

    page = client.get(f"/letters/{letter.token}/").content.decode()

    assert f'href="{report_url(first.representative)}?next=' in page
    assert report_url(second.representative) not in page


def test_a_contact_form_only_representative_stays_reachable(client, campaign, council):
    page = write_page(client, campaign)
    assert 'href="https://ottawa.example.org/contact"' in page
    assert report_url(council["no_email"]) in page


# --- The report form -------------------------------------------------------------------------


def test_it_files_a_report_without_asking_who_you_are(client, council):
    rep = council["first"]
    page = client.get(report_url(rep)).content.decode()
    assert "Cora Councillor" in page
    assert "cora@ottawa.example.org" in page
    assert 'name="email"' not in page and 'name="name"' not in page

    response = client.post(
        report_url(rep),
        {"problem": "left_office", "details": "Cora retired in June; Dana Diaz replaced her."},
    )

    assert response.status_code == 200
    assert "Thank you. An organizer will check this contact" in response.content.decode()
    report = ContactReport.objects.get()
    assert (report.representative, report.problem, report.status) == (
        rep,
        ContactReport.Problem.LEFT_OFFICE,
        ContactReport.Status.OPEN,
    )
    assert report.details == "Cora retired in June; Dana Diaz replaced her."


def test_it_refuses_an_unknown_problem_and_overlong_details(client, council):
    rep = council["first"]
    response = client.post(report_url(rep), {"problem": "hacked", "details": "x"})
    assert response.status_code == 200
    assert "error-summary" in response.content.decode()
    response = client.post(report_url(rep), {"problem": "other", "details": "x" * 1001})
    assert "error-summary" in response.content.decode()
    assert not ContactReport.objects.exists()


def test_it_goes_back_only_to_this_site(client, council):
    rep = council["first"]
    page = client.get(report_url(rep), {"next": "/campaigns/cams/write/"}).content.decode()
    assert 'href="/campaigns/cams/write/">Back to your letter' in page
    page = client.get(report_url(rep), {"next": "https://evil.example.com/"}).content.decode()
    assert 'href="https://evil.example.com/"' not in page
    assert "Back to your letter" not in page
    assert '<input type="hidden" name="next" value="">' in page


def test_it_is_limited_per_ip_address(client, council, settings):
    settings.CONTACT_REPORTS_PER_IP = 2
    rep = council["first"]
    for _ in range(2):
        assert client.post(report_url(rep), {"problem": "other"}).status_code == 200
    response = client.post(report_url(rep), {"problem": "other"})
    assert response.status_code == 429
    assert "Many reports were sent from your internet address" in response.content.decode()
    assert ContactReport.objects.count() == 2
    other = Client(REMOTE_ADDR="192.0.2.9")
    assert other.post(report_url(rep), {"problem": "other"}).status_code == 200


def test_it_needs_the_csrf_token(council):
    client = Client(enforce_csrf_checks=True)
    rep = council["first"]
    assert client.post(report_url(rep), {"problem": "other"}).status_code == 403
    page = client.get(report_url(rep))
    token = page.cookies["csrftoken"].value
    response = client.post(report_url(rep), {"problem": "other", "csrfmiddlewaretoken": token})
    assert response.status_code == 200
    assert ContactReport.objects.count() == 1


def test_a_bot_filling_the_honeypot_files_nothing(client, council):
    response = client.post(
        report_url(council["first"]), {"problem": "other", "website": "http://spam"}
    )
    assert response.status_code == 200
    assert not ContactReport.objects.exists()


def test_it_is_404_for_a_retired_or_unknown_representative(client, council):
    retired = RepresentativeFactory(municipality=council["municipality"], active=False)
    assert client.get(report_url(retired)).status_code == 404
    assert client.get("/contacts/999999/report/").status_code == 404


def test_it_answers_get_and_post_only(client, council):
    assert client.put(report_url(council["first"])).status_code == 405
    assert client.delete(report_url(council["first"])).status_code == 405


def test_it_speaks_french_under_the_french_address(client, council):
    response = client.get(report_url(council["first"], prefix="/fr"))
    assert response.status_code == 200
    assert '<html lang="fr"' in response.content.decode()


# --- The organizers' queue -------------------------------------------------------------------


@pytest.fixture
def reports(council):
    return [
        ContactReport.objects.create(
            representative=council["first"], problem=ContactReport.Problem.LEFT_OFFICE
        ),
        ContactReport.objects.create(
            representative=council["second"],
            problem=ContactReport.Problem.WRONG_EMAIL,
            details="It is carl.c@ottawa.example.org now",
        ),
    ]


def act(client, action, reports):
    return client.post(
        reverse("admin:councils_contactreport_changelist"),
        {"action": action, "_selected_action": [r.pk for r in reports]},
        follow=True,
    )


def test_organizers_see_the_queue_with_a_link_to_correct_each_contact(staff_client, reports):
    response = staff_client.get(
        reverse("admin:councils_contactreport_changelist"), {"status__exact": "open"}
    )
    page = response.content.decode()
    assert response.status_code == 200
    assert "It is carl.c@ottawa.example.org now" in page
    change = reverse("admin:councils_representative_change", args=[reports[1].representative_id])
    assert f'<a href="{change}">Correct the contact</a>' in page
    detail = reverse("admin:councils_contactreport_change", args=[reports[0].pk])
    assert staff_client.get(detail).status_code == 200


def test_one_click_retires_the_reported_representative(staff_client, staff_user, reports):
    response = act(staff_client, "retire", reports[:1])

    assert "1 report closed; its representative is retired." in response.content.decode()
    reports[0].refresh_from_db()
    assert (reports[0].status, reports[0].resolved_by) == (
        ContactReport.Status.RESOLVED,
        staff_user,
    )
    assert not Representative.objects.get(pk=reports[0].representative_id).active
    assert Representative.objects.get(pk=reports[1].representative_id).active


def test_reports_can_be_resolved_or_dismissed_without_retiring(staff_client, reports):
    act(staff_client, "resolve", reports[:1])
    act(staff_client, "dismiss", reports[1:])
    statuses = [ContactReport.objects.get(pk=r.pk).status for r in reports]
    assert statuses == [ContactReport.Status.RESOLVED, ContactReport.Status.DISMISSED]
    assert (
        Representative.objects.filter(
            pk__in=[r.representative_id for r in reports], active=True
        ).count()
        == 2
    )


def test_staff_see_reports_but_cannot_act_on_them(client, reports):
    from django.contrib.auth.models import Group

    from letters.groups import STAFF, groups_ensure
    from tests.factories import UserFactory

    groups_ensure()
    member = UserFactory(is_staff=True)
    member.groups.add(Group.objects.get(name=STAFF))
    client.force_login(member)
    url = reverse("admin:councils_contactreport_changelist")
    assert client.get(url).status_code == 200
    response = client.post(url, {"action": "retire", "_selected_action": [reports[0].pk]})
    assert response.status_code == 200
    assert Representative.objects.get(pk=reports[0].representative_id).active
    assert ContactReport.objects.get(pk=reports[0].pk).status == ContactReport.Status.OPEN
