import csv
import io
from datetime import date

import pytest
from django.contrib.auth.models import Permission
from django.core.cache import cache
from django.urls import reverse

from letters.admin_reports import chart_letters_per_day
from letters.models import SignerExportLog
from tests.factories import UserFactory
from tests.letters.counts_data import build_counts_data, local, make_letter

pytestmark = pytest.mark.django_db


@pytest.fixture
def data():
    return build_counts_data()


@pytest.fixture
def plain_staff(client):
    """Staff, not superuser, with no permission at all."""
    user = UserFactory(username="clerk", is_staff=True)
    client.force_login(user)
    return user


def grant_export(user):
    user.user_permissions.add(
        Permission.objects.get(content_type__app_label="letters", codename="export_signers")
    )


def counts_url(data, **query):
    url = reverse("admin:letters_counts", args=[data.campaign.pk])
    return url + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else "")


def streamed_csv(response):
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8"))))


# --- counts page --------------------------------------------------------------------------------


def test_counts_page_shows_groupings_chart_top_municipalities_and_health(plain_staff, client, data):
    response = client.get(counts_url(data))

    assert response.status_code == 200
    context = response.context
    assert context["by"] == "municipality"
    assert context["table"] == [
        ["ocd-division/country:ca/csd:3520005", "Toronto", "ON", 5, 6],
        ["ocd-division/country:ca/csd:3506008", "Ottawa", "ON", 2, 2],
        ["ocd-division/country:ca/csd:2466023", "Montréal", "QC", 1, 0],
    ]
    assert context["total"] == 8
    assert [row["name"] for row in context["top_municipalities"]] == [
        "Toronto",
        "Ottawa",
        "Montréal",
    ]
    health = {status: count for _label, count, status in context["health"]}
    assert (health["sent"], health["delivered"], health["bounced"], health["failed"]) == (
        5,
        4,
        1,
        1,
    )
    html = response.content.decode()
    assert "<svg" in html
    assert html.count("<rect ") == 3  # the 20th, 21st and 22nd
    assert "Delivery health" in html
    assert "Download signers" not in html  # no export_signers permission


@pytest.mark.parametrize(
    ("by", "first_row"),
    [
        ("province", ["ON", "Ontario", 7, 8]),
        ("day", [date(2026, 11, 20), 3, 4]),
        (
            "ward",
            [
                "ocd-division/country:ca/csd:3520005",
                "Toronto",
                "ON",
                "ocd-division/country:ca/csd:3520005/ward:1",
                "Ward 1",
                3,
                3,
            ],
        ),
    ],
)
def test_counts_page_switches_grouping(plain_staff, client, data, by, first_row):
    response = client.get(counts_url(data, by=by))

    assert response.context["by"] == by
    assert response.context["table"][0] == first_row


def test_counts_page_reuses_its_figures_for_a_minute_but_the_csv_counts_anew(
    plain_staff, client, data
):
    assert client.get(counts_url(data)).context["total"] == 8
    make_letter(campaign=data.campaign, municipality=data.ottawa, confirmed_at=local(23, 9))

    assert client.get(counts_url(data)).context["total"] == 8
    csv_rows = streamed_csv(
        client.get(reverse("admin:letters_counts_csv", args=[data.campaign.pk]) + "?by=province")
    )
    assert csv_rows[1] == ["ON", "Ontario", "8", "8"]

    cache.clear()
    assert client.get(counts_url(data)).context["total"] == 9


def test_counts_page_falls_back_to_municipality_for_an_unknown_grouping(plain_staff, client, data):
    assert client.get(counts_url(data, by="email")).context["by"] == "municipality"


def test_counts_page_sends_anonymous_visitors_to_the_login(client, data):
    response = client.get(counts_url(data))

    assert response.status_code == 302
    assert "/login/" in response["Location"]


def test_counts_page_refuses_non_staff(client, data):
    client.force_login(UserFactory(username="resident"))

    response = client.get(counts_url(data))

    assert response.status_code == 302
    assert "/login/" in response["Location"]


def test_counts_page_returns_404_for_an_unknown_campaign(plain_staff, client, data):
    assert client.get(reverse("admin:letters_counts", args=[999999])).status_code == 404


def test_counts_page_rejects_post(plain_staff, client, data):
    assert client.post(counts_url(data)).status_code == 405


def test_counts_index_lists_campaigns_with_their_counts(plain_staff, client, data):
    response = client.get(reverse("admin:letters_counts_index"))

    assert response.status_code == 200
    counted = {campaign.slug: campaign.counted for campaign in response.context["campaigns"]}
    assert counted == {"facial": 8, "other": 1}
    assert counts_url(data) in response.content.decode()


# --- counts CSV ---------------------------------------------------------------------------------


def test_counts_csv_downloads_the_grouping_with_a_dated_name(plain_staff, client, data):
    response = client.get(
        reverse("admin:letters_counts_csv", args=[data.campaign.pk]) + "?by=province"
    )

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith(
        'attachment; filename="counts-facial-province-'
    )
    assert streamed_csv(response) == [
        ["Province", "Name", "Letters", "Deliveries sent"],
        ["ON", "Ontario", "7", "8"],
        ["QC", "Quebec", "1", "0"],
    ]


# --- signer download ----------------------------------------------------------------------------


def signers_url(data, query=""):
    return reverse("admin:letters_signers_csv", args=[data.campaign.pk]) + query


def test_signers_download_is_forbidden_without_the_permission(plain_staff, client, data):
    response = client.get(signers_url(data))

    assert response.status_code == 403
    assert not SignerExportLog.objects.exists()


def test_signers_download_streams_the_file_and_logs_it(plain_staff, client, data):
    grant_export(plain_staff)

    response = client.get(signers_url(data))
    rows = streamed_csv(response)

    assert response.status_code == 200
    assert {"no-store", "private"} <= set(response["Cache-Control"].split(", "))
    assert response["Content-Disposition"].startswith('attachment; filename="signers-facial-')
    assert rows[0][:3] == ["First name", "Last name", "Email"]
    assert len(rows) == 1 + 8
    log = SignerExportLog.objects.get()
    assert (log.campaign, log.user, log.actor, log.source, log.rows) == (
        data.campaign,
        plain_staff,
        "clerk",
        SignerExportLog.Source.ADMIN,
        8,
    )
    assert log.finished_at is not None


def test_signers_download_can_keep_only_consent(plain_staff, client, data):
    grant_export(plain_staff)
    data.campaign.letters.filter(municipality=data.ottawa).update(consent_given=True)

    rows = streamed_csv(client.get(signers_url(data, "?consented_only=1")))

    assert len(rows) == 1 + 2
    assert {row[4] for row in rows[1:]} == {"Ottawa"}
    assert SignerExportLog.objects.get().consented_only is True


def test_counts_page_offers_the_signer_download_with_the_permission(plain_staff, client, data):
    grant_export(plain_staff)

    html = client.get(counts_url(data)).content.decode()

    assert signers_url(data) in html


def test_superusers_may_download_signers(staff_client, data):
    assert staff_client.get(signers_url(data)).status_code == 200


def test_signers_download_sends_anonymous_visitors_to_the_login(client, data):
    response = client.get(signers_url(data))

    assert response.status_code == 302
    assert not SignerExportLog.objects.exists()


def test_signers_download_rejects_post(plain_staff, client, data):
    grant_export(plain_staff)

    assert client.post(signers_url(data)).status_code == 405


# --- links into the pages -----------------------------------------------------------------------


def test_campaign_change_page_links_to_its_counts(staff_client, data):
    url = reverse("admin:campaigns_campaign_change", args=[data.campaign.pk])

    html = staff_client.get(url).content.decode()

    assert counts_url(data) in html


def test_letters_list_links_to_signature_counts(staff_client, data):
    html = staff_client.get(reverse("admin:letters_letter_changelist")).content.decode()

    assert reverse("admin:letters_counts_index") in html


def test_export_log_is_read_only(staff_client, data):
    assert staff_client.get(reverse("admin:letters_signerexportlog_changelist")).status_code == 200
    assert staff_client.get(reverse("admin:letters_signerexportlog_add")).status_code == 403


# --- chart --------------------------------------------------------------------------------------


def test_chart_scales_bars_to_the_busiest_day():
    chart = chart_letters_per_day(
        [(date(2026, 11, 1), 10), (date(2026, 11, 2), 0), (date(2026, 11, 3), 5)],
        width=300,
        height=100,
    )

    assert [(bar["x"], bar["height"], bar["y"]) for bar in chart["bars"]] == [
        (0, 100, 0),
        (100, 0, 100),
        (200, 50, 50),
    ]
    assert chart["max"] == 10
    assert chart_letters_per_day([])["bars"] == []
