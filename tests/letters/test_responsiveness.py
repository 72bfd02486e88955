"""Responsiveness, honestly shown: per council and per councillor, letters delivered,
residents who answered the follow-up, replies reported and the median days to a reply; in
the staff counts page, `export_counts --by councillor` and, when allowed, the campaign page.

The fixture (campaign "cams", every letter reaching council on 2 November 2026):

    council   letter  recipients (reply reported: outcome, days after the letter)
    Ottawa    L1      Mara (replied, 2)  Cora (no reply)
              L2      Mara (replied, 5)  Cora (unsatisfactory, 9)  Carl (-)   + the clerk
              L3      Mara (-)
              L4      Cora (replied, no date)
              L5      Carl: bounced, never reached
              L6      Mara (replied, 10); the letter was erased since
    Gatineau  G1      Gina (replied, 3)  Gus (replied, 4)
              G2      Gina (no reply)
    Kingston  K1, K2  Kim (-)

Never counted: a test letter to Mara (its writer's answer is not even recorded), another
campaign's letter to Mara (with a reply), and an unconfirmed letter to Kim.
"""

import csv
import io
from datetime import date, timedelta

import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.urls import reverse
from openpyxl import load_workbook

from letters import selectors
from letters.erasure import letters_erase
from letters.groups import STAFF, groups_ensure
from letters.models import Delivery, Letter
from letters.selectors import responsiveness, responsiveness_totals
from tests.factories import CampaignFactory, UserFactory
from tests.letters.followup_helpers import SENT_AT, council_of, reply_to, sent_letter

pytestmark = pytest.mark.django_db

SENT_DAY = date(2026, 11, 2)
R, N, U = "replied", "no_reply", "unsatisfactory"


def day(days: int) -> date:
    return SENT_DAY + timedelta(days=days)


@pytest.fixture
def data():
    campaign = CampaignFactory(slug="cams", show_responsiveness=True)
    ottawa, (mara, cora, carl) = council_of(
        "Ottawa", ["Mara Mayor", "Cora Councillor", "Carl Councillor"]
    )
    gatineau, (gina, gus) = council_of(
        "Gatineau", ["Gina Conseillere", "Gus Conseiller"], province="QC"
    )
    kingston, (kim,) = council_of("Kingston", ["Kim Councillor"])

    l1 = sent_letter(campaign, ottawa, [mara, cora])
    reply_to(l1, mara, R, replied_on=day(2))
    reply_to(l1, cora, N)
    l2 = sent_letter(campaign, ottawa, [mara, cora, carl], clerk=True)
    reply_to(l2, mara, R, replied_on=day(5), summary="She will table a motion.", may_publish=True)
    reply_to(l2, cora, U, replied_on=day(9), summary="Private words.", may_publish=False)
    sent_letter(campaign, ottawa, [mara])
    l4 = sent_letter(campaign, ottawa, [cora])
    reply_to(l4, cora, R)
    sent_letter(campaign, ottawa, [carl], status=Delivery.Status.BOUNCED)
    l6 = sent_letter(campaign, ottawa, [mara])
    reply_to(l6, mara, R, replied_on=day(10), summary="Erased words.", may_publish=True)
    letters_erase([l6.pk], now=SENT_AT + timedelta(days=20))

    g1 = sent_letter(campaign, gatineau, [gina, gus])
    reply_to(g1, gina, R, replied_on=day(3))
    reply_to(g1, gus, R, replied_on=day(4))
    g2 = sent_letter(campaign, gatineau, [gina])
    reply_to(g2, gina, N)

    sent_letter(campaign, kingston, [kim])
    sent_letter(campaign, kingston, [kim])

    test = sent_letter(campaign, ottawa, [mara], is_test=True)
    reply_to(test, mara, R, replied_on=day(1))
    other = sent_letter(CampaignFactory(slug="other"), ottawa, [mara])
    reply_to(other, mara, R, replied_on=day(1))
    pending = sent_letter(campaign, kingston, [kim], status=Delivery.Status.PENDING_CONFIRMATION)
    Letter.objects.filter(pk=pending.pk).update(
        status=Letter.Status.PENDING_CONFIRMATION, confirmed_at=None
    )
    return campaign


def figures(rows, *names):
    return {
        tuple(row[name] for name in names): (
            row["delivered"],
            row["answered"],
            row["replied"],
            row["median_days"],
        )
        for row in rows
    }


# Counted by hand from the table in the module's docstring.
BY_COUNCIL = {
    ("Ottawa",): (5, 4, 4, 7.0),  # L1-L4, L6; L5 never reached; days 2, 5, 9, 10
    ("Gatineau",): (2, 2, 1, 3.5),  # days 3, 4
    ("Kingston",): (2, 0, 0, None),
}
BY_COUNCILLOR = {
    ("Ottawa", "Mara Mayor"): (4, 3, 3, 5.0),  # days 2, 5, 10
    ("Ottawa", "Cora Councillor"): (3, 3, 2, 9.0),
    ("Ottawa", "Carl Councillor"): (1, 0, 0, None),
    ("Gatineau", "Gina Conseillere"): (2, 2, 1, 3.0),
    ("Gatineau", "Gus Conseiller"): (1, 1, 1, 4.0),
    ("Kingston", "Kim Councillor"): (2, 0, 0, None),
}


def test_per_council_the_figures_match_a_hand_count(data):
    rows = responsiveness(campaign=data, by="council")

    assert figures(rows, "name") == BY_COUNCIL
    assert [row["name"] for row in rows] == ["Ottawa", "Gatineau", "Kingston"]


def test_per_councillor_the_figures_match_a_hand_count(data):
    rows = responsiveness(campaign=data, by="councillor")

    assert figures(rows, "name", "representative") == BY_COUNCILLOR
    assert [row["representative"] for row in rows] == [
        "Mara Mayor",
        "Cora Councillor",
        "Gina Conseillere",
        "Kim Councillor",
        "Gus Conseiller",
        "Carl Councillor",
    ]


def test_the_sums_add_up(data):
    councils = responsiveness(campaign=data, by="council")
    councillors = responsiveness(campaign=data, by="councillor")

    # Each counted letter that reached council, once.
    reached_letters = (
        Letter.objects.counted()
        .filter(
            campaign=data, deliveries__status__in=["sent", "delivered"], deliveries__to_clerk=False
        )
        .distinct()
        .count()
    )
    assert responsiveness_totals(councils)["delivered"] == reached_letters == 9
    # Each delivery to a representative, once.
    reached = Delivery.objects.filter(
        letter__campaign=data,
        letter__is_test=False,
        letter__confirmed_at__isnull=False,
        status__in=["sent", "delivered"],
        to_clerk=False,
    ).count()
    assert responsiveness_totals(councillors)["delivered"] == reached == 13
    # Every answer about a councillor is one of their reached deliveries.
    assert responsiveness_totals(councillors)["answered"] == 9
    assert responsiveness_totals(councillors)["replied"] == 7
    # A council's row never counts more than its members' rows together, nor fewer than
    # its busiest member's.
    for council in councils:
        members = [
            row for row in councillors if row["municipality_id"] == council["municipality_id"]
        ]
        for key in ("delivered", "answered", "replied"):
            assert (
                max(row[key] for row in members) <= council[key] <= sum(row[key] for row in members)
            )
        assert council["replied"] <= council["answered"] <= council["delivered"]


def test_an_unknown_grouping_is_refused(data):
    with pytest.raises(ValueError):
        responsiveness(campaign=data, by="ward")


def test_it_carries_no_residents_data(data):
    rows = responsiveness(campaign=data, by="councillor")
    text = repr(rows)
    assert "Wanda" not in text and "Writer" not in text and "example.net" not in text


def export(campaign, *args) -> str:
    out, err = io.StringIO(), io.StringIO()
    call_command(
        "export_counts",
        "--campaign",
        campaign.slug,
        "--by",
        "councillor",
        *args,
        stdout=out,
        stderr=err,
    )
    return out.getvalue(), err.getvalue()


def test_export_counts_by_councillor_writes_the_figures(data):
    out, err = export(data, "--output", "-")

    rows = list(csv.reader(io.StringIO(out)))
    assert rows[0] == [
        "Municipality OCD id",
        "Municipality",
        "Province",
        "Representative",
        "Role",
        "Letters delivered",
        "Residents who answered",
        "Replies reported",
        "Median days to a reply",
    ]
    got = {(row[1], row[3]): tuple(row[5:]) for row in rows[1:]}
    expected = {
        key: tuple(
            "" if value is None else str(int(value) if value == int(value) else value)
            for value in figures_
        )
        for key, figures_ in BY_COUNCILLOR.items()
    }
    assert got == expected
    assert "only residents who answered the follow-up are counted" in err


def test_export_counts_by_councillor_writes_xlsx_with_its_caveat(data, tmp_path):
    path = tmp_path / "responsiveness.xlsx"

    out, _err = export(data, "--format", "xlsx", "--output", str(path))

    sheet = load_workbook(path).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[1][3:] == ("Mara Mayor", "Councillor", 4, 3, 3, 5)
    assert "Volumes differ from one council to another" in out


def staff_member(client):
    groups_ensure()
    user = UserFactory(is_staff=True, username="staff-member")
    user.groups.add(Group.objects.get(name=STAFF))
    client.force_login(user)
    return client


def test_the_staff_counts_page_shows_councils_with_the_caveat(client, data):
    response = staff_member(client).get(reverse("admin:letters_counts", args=[data.pk]))

    assert response.status_code == 200
    content = response.content.decode()
    assert "Did council answer?" in content
    assert str(selectors.RESPONSIVENESS_CAVEAT) in content
    assert [
        (row["name"], row["delivered"], row["answered"], row["replied"])
        for row in response.context["responsiveness"]
    ] == [
        ("Ottawa", 5, 4, 4),
        ("Gatineau", 2, 2, 1),
        ("Kingston", 2, 0, 0),
    ]
    assert response.context["responsiveness_totals"] == {
        "delivered": 9,
        "answered": 6,
        "replied": 5,
    }
    # No words of any reply, published or not, on the staff page.
    assert "table a motion" not in content and "Private words" not in content


def test_the_staff_counts_page_groups_by_councillor_and_downloads_it(client, data):
    client = staff_member(client)
    response = client.get(reverse("admin:letters_counts", args=[data.pk]) + "?by=councillor")

    assert response.status_code == 200
    assert response.context["table"][0][1:] == [
        "Ottawa",
        "ON",
        "Mara Mayor",
        "Councillor",
        4,
        3,
        3,
        5,
    ]
    assert str(selectors.RESPONSIVENESS_CAVEAT) in response.content.decode()
    download = client.get(reverse("admin:letters_counts_csv", args=[data.pk]) + "?by=councillor")
    body = b"".join(download.streaming_content).decode("utf-8-sig")
    assert "Mara Mayor" in body and "Median days to a reply" in body


def test_the_campaign_page_shows_it_when_the_campaign_allows_it(client, data):
    response = client.get(data.get_absolute_url())

    content = response.content.decode()
    assert "Did council answer?" in content
    assert str(selectors.RESPONSIVENESS_CAVEAT) in content
    councils = response.context["responsiveness"]["councils"]
    assert [(row["name"], row["delivered"], row["replied"]) for row in councils] == [
        ("Ottawa", 5, 4),
        ("Gatineau", 2, 1),
        ("Kingston", 2, 0),
    ]
    assert [member["representative"] for member in councils[0]["councillors"]] == [
        "Mara Mayor",
        "Cora Councillor",
        "Carl Councillor",
    ]
    # Only what a resident allowed to be published, and never their name.
    assert "She will table a motion." in content
    assert "Private words" not in content and "Erased words" not in content
    assert "Wanda" not in content and "Writer" not in content and "example.net" not in content


def test_the_campaign_page_shows_nothing_of_it_otherwise(client, data):
    data.show_responsiveness = False
    data.save()

    content = client.get(data.get_absolute_url()).content.decode()

    assert "Did council answer?" not in content
    assert "She will table a motion." not in content


def test_the_campaign_page_shows_it_in_french(client, data, french_catalog):
    french_catalog("Did council answer?", "Le conseil a-t-il répondu?")

    response = client.get("/fr" + data.get_absolute_url())

    assert "Le conseil a-t-il répondu?" in response.content.decode()


def test_the_median_is_a_median_on_any_database(data):
    # An even number of dated replies: the mean of the middle two (PERCENTILE_CONT on
    # PostgreSQL, the same from the values elsewhere).
    rows = {row["name"]: row for row in responsiveness(campaign=data, by="council")}
    assert rows["Gatineau"]["median_days"] == 3.5
    assert rows["Ottawa"]["median_days"] == 7.0


def test_a_representative_deleted_from_the_directory_still_counts_without_a_name(data):
    from councils.models import Representative

    Representative.objects.filter(name="Carl Councillor").delete()

    rows = responsiveness(campaign=data, by="councillor")

    nameless = [row for row in rows if not row["representative"]]
    assert [(row["name"], row["delivered"], row["answered"]) for row in nameless] == [("", 1, 0)]
    assert responsiveness_totals(rows)["delivered"] == 13
    out, _err = export(data, "--output", "-")
    assert len(list(csv.reader(io.StringIO(out)))) == 1 + 6
