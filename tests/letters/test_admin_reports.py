import codecs
import csv
import io
from datetime import date, timedelta

import openpyxl
import pytest
from django.contrib.auth.models import Permission
from django.core.cache import cache
from django.urls import reverse

from letters.admin_reports import chart_letters_per_day
from letters.models import SignerExportLog
from tests.factories import UserFactory
from tests.letters.counts_data import FIGURES, build_counts_data, local, make_letter

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
    content = b"".join(response.streaming_content)
    assert content.startswith(codecs.BOM_UTF8)  # so Excel reads UTF-8
    return list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))


# --- counts page --------------------------------------------------------------------------------


def test_counts_page_shows_groupings_chart_top_municipalities_and_health(plain_staff, client, data):
    response = client.get(counts_url(data))

    assert response.status_code == 200
    context = response.context
    assert context["by"] == "municipality"
    assert context["table"] == [
        ["ocd-division/country:ca/csd:3520005", "Toronto", "ON", 5, 0, 0, 6],
        ["ocd-division/country:ca/csd:3506008", "Ottawa", "ON", 2, 0, 0, 2],
        ["ocd-division/country:ca/csd:2466023", "Montréal", "QC", 1, 0, 0, 0],
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
        ("province", ["ON", "Ontario", 7, 0, 0, 8]),
        ("day", [date(2026, 11, 20), 3, 0, 0, 4]),
        (
            "ward",
            [
                "ocd-division/country:ca/csd:3520005",
                "Toronto",
                "ON",
                "ocd-division/country:ca/csd:3520005/ward:1",
                "Ward 1",
                3,
                0,
                0,
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
    assert csv_rows[1] == ["ON", "Ontario", "8", "0", "0", "8"]

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
        ["Province", "Name", *FIGURES],
        ["ON", "Ontario", "7", "0", "0", "8"],
        ["QC", "Quebec", "1", "0", "0", "0"],
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
        [(date(2026, 11, 1), 10), (date(2026, 11, 2), 0), (date(2026, 11, 3), 5)]
    )
    bars = chart["bars"]
    plot_height = chart["bottom"] - chart["top"]

    assert [bar["height"] for bar in bars] == [plot_height, 0, plot_height / 2]
    assert all(bar["y"] + bar["height"] == chart["bottom"] for bar in bars)
    # Evenly spaced, one per day, left to right inside the axes.
    assert bars[0]["x"] > chart["left"]
    assert bars[2]["x"] + bars[2]["width"] < chart["right"]
    assert round(bars[1]["x"] - bars[0]["x"], 1) == round(bars[2]["x"] - bars[1]["x"], 1)
    assert chart["max"] == 10
    assert chart_letters_per_day([])["bars"] == []


def test_chart_has_a_count_axis_with_round_steps_from_zero():
    chart = chart_letters_per_day([(date(2026, 11, 1), 37), (date(2026, 11, 2), 12)])

    assert [tick["value"] for tick in chart["y_ticks"]] == [0, 10, 20, 30, 40]
    assert chart["y_ticks"][0]["y"] == chart["bottom"]
    assert chart["y_ticks"][-1]["y"] == chart["top"]


def test_chart_labels_dates_on_its_time_axis_without_crowding():
    days = [(date(2026, 10, 1) + timedelta(days=n), n % 7) for n in range(60)]

    chart = chart_letters_per_day(days)

    assert 2 <= len(chart["x_ticks"]) <= 7
    assert chart["x_ticks"][0]["label"] == "October 1"
    assert chart["x_ticks"][0]["day"] == date(2026, 10, 1)


def test_chart_draws_a_single_day_as_one_bar_of_normal_width():
    chart = chart_letters_per_day([(date(2026, 11, 20), 5)])

    (bar,) = chart["bars"]
    assert bar["width"] <= 30
    centre = bar["x"] + bar["width"] / 2
    assert abs(centre - (chart["left"] + chart["right"]) / 2) < 1
    assert [tick["label"] for tick in chart["x_ticks"]] == ["November 20"]
    assert chart["y_ticks"][-1]["value"] >= 5


def test_counts_page_draws_the_chart_with_axes_dates_and_counts(plain_staff, client, data):
    html = client.get(counts_url(data)).content.decode()
    start = html.index('<svg class="counts-chart"')
    svg = html[start : html.index("</svg>", start)]

    assert svg.count('class="axis"') >= 2
    for label in ("November 20", "November 21", "November 22"):
        assert f">{label}</text>" in svg
    assert 'text-anchor="end" dominant-baseline="middle">0</text>' in svg
    assert 'text-anchor="end" dominant-baseline="middle">3</text>' in svg  # the busiest day


def test_counts_page_shows_its_title_above_the_downloads_not_under_them(plain_staff, client, data):
    html = client.get(counts_url(data)).content.decode()

    title = html.index("<h1>Signature counts: ")
    downloads = html.index('class="counts-downloads"')
    assert title < downloads
    # The admin's object tools float up over the title; the downloads stay in the flow.
    assert 'class="object-tools"' not in html
    assert (
        reverse("admin:letters_counts_xlsx", args=[data.campaign.pk]) + "?by=municipality" in html
    )


# --- XLSX downloads -------------------------------------------------------------------------------


def streamed_xlsx(response):
    workbook = openpyxl.load_workbook(io.BytesIO(b"".join(response.streaming_content)))
    return [list(row) for row in workbook.active.iter_rows(values_only=True)]


def as_text(rows):
    return [
        [
            ""
            if value is None
            else value.date().isoformat()
            if hasattr(value, "date")
            else str(value)
            for value in row
        ]
        for row in rows
    ]


@pytest.mark.parametrize("by", ["municipality", "province", "ward", "day"])
def test_counts_xlsx_holds_the_same_rows_as_the_csv(plain_staff, client, data, by):
    query = f"?by={by}"
    csv_rows = streamed_csv(
        client.get(reverse("admin:letters_counts_csv", args=[data.campaign.pk]) + query)
    )
    response = client.get(reverse("admin:letters_counts_xlsx", args=[data.campaign.pk]) + query)

    assert response.status_code == 200
    assert response["Content-Type"] == (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    assert response["Content-Disposition"].startswith(f'attachment; filename="counts-facial-{by}-')
    assert response["Content-Disposition"].endswith('.xlsx"')
    assert as_text(streamed_xlsx(response)) == csv_rows


def test_counts_xlsx_escapes_formulas(plain_staff, client, data):
    data.ottawa.name = "=cmd|' /C calc'!A0"
    data.ottawa.save()

    rows = streamed_xlsx(client.get(reverse("admin:letters_counts_xlsx", args=[data.campaign.pk])))

    assert rows[2][1] == "'=cmd|' /C calc'!A0"


def test_signers_xlsx_is_forbidden_without_the_permission(plain_staff, client, data):
    response = client.get(reverse("admin:letters_signers_xlsx", args=[data.campaign.pk]))

    assert response.status_code == 403
    assert not SignerExportLog.objects.exists()


def test_signers_xlsx_holds_the_csv_rows_and_is_logged(plain_staff, client, data):
    grant_export(plain_staff)
    data.campaign.letters.filter(municipality=data.ottawa).update(
        consent_given=True, first_name="@SUM(A1)"
    )
    url = reverse("admin:letters_signers_xlsx", args=[data.campaign.pk]) + "?consented_only=1"

    response = client.get(url)
    rows = streamed_xlsx(response)

    assert response.status_code == 200
    assert {"no-store", "private"} <= set(response["Cache-Control"].split(", "))
    assert response["Content-Disposition"].startswith(
        'attachment; filename="signers-facial-consented-'
    )
    assert as_text(rows) == streamed_csv(client.get(signers_url(data, "?consented_only=1")))
    assert [row[0] for row in rows[1:]] == ["'@SUM(A1)", "'@SUM(A1)"]
    first, second = SignerExportLog.objects.order_by("started_at", "pk")
    assert (first.user, first.rows, first.consented_only) == (plain_staff, 2, True)
    assert first.finished_at is not None
    assert second.rows == 2


def test_signers_xlsx_rejects_post(plain_staff, client, data):
    grant_export(plain_staff)

    response = client.post(reverse("admin:letters_signers_xlsx", args=[data.campaign.pk]))

    assert response.status_code == 405
