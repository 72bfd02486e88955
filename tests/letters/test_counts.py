import codecs
import csv
import io
from datetime import date, datetime

import openpyxl
import pytest
import time_machine
from django.core.management import CommandError, call_command

from letters.selectors import delivery_health, letter_counts, letters_per_day
from tests.factories import CampaignFactory
from tests.letters.counts_data import FIGURES, build_counts_data, local, make_letter

pytestmark = pytest.mark.django_db


@pytest.fixture
def data():
    return build_counts_data()


def simple(rows, *keys):
    return [tuple(row[key] for key in keys) for row in rows]


def test_it_counts_letters_and_sent_deliveries_per_municipality(data):
    rows = letter_counts(campaign=data.campaign, by="municipality")

    assert simple(rows, "ocd_id", "name", "province", "letters", "deliveries_sent") == [
        ("ocd-division/country:ca/csd:3520005", "Toronto", "ON", 5, 6),
        ("ocd-division/country:ca/csd:3506008", "Ottawa", "ON", 2, 2),
        ("ocd-division/country:ca/csd:2466023", "Montréal", "QC", 1, 0),
    ]


def test_it_counts_per_province(data):
    rows = letter_counts(campaign=data.campaign, by="province")

    assert simple(rows, "province", "name", "letters", "deliveries_sent") == [
        ("ON", "Ontario", 7, 8),
        ("QC", "Quebec", 1, 0),
    ]


def test_it_counts_per_ward_within_each_municipality(data):
    rows = letter_counts(campaign=data.campaign, by="ward")

    assert sorted(simple(rows, "name", "ward_name", "letters", "deliveries_sent")) == [
        ("Montréal", "", 1, 0),
        ("Ottawa", "", 2, 2),
        ("Toronto", "", 1, 0),
        ("Toronto", "Ward 1", 3, 3),
        ("Toronto", "Ward 2", 1, 3),
    ]
    ward1 = next(row for row in rows if row["ward_name"] == "Ward 1")
    assert ward1["ward_ocd_id"] == "ocd-division/country:ca/csd:3520005/ward:1"


def test_it_counts_per_day_in_the_site_time_zone(data):
    rows = letter_counts(campaign=data.campaign, by="day")

    # 23:30 in Toronto on the 20th is the 21st in UTC, and still counts for the 20th.
    assert simple(rows, "day", "letters", "deliveries_sent") == [
        (date(2026, 11, 20), 3, 4),
        (date(2026, 11, 21), 2, 3),
        (date(2026, 11, 22), 3, 1),
    ]


def test_it_does_not_multiply_letters_by_their_recipients(data):
    for by in ("municipality", "province", "ward", "day"):
        rows = letter_counts(campaign=data.campaign, by=by)
        assert sum(row["letters"] for row in rows) == 8, by
        assert sum(row["deliveries_sent"] for row in rows) == 8, by


def test_it_can_leave_deliveries_out(data):
    rows = letter_counts(campaign=data.campaign, by="province", with_deliveries=False)

    assert simple(rows, "province", "letters", "deliveries_sent") == [("ON", 7, 0), ("QC", 1, 0)]


def test_it_counts_personal_parts_and_near_copies_in_every_grouping(data):
    own = {"has_personal_part": True}
    near = {"has_personal_part": True, "personal_near_duplicate": True}
    make_letter(campaign=data.campaign, municipality=data.ottawa, confirmed_at=local(22, 9), **own)
    make_letter(
        campaign=data.campaign, municipality=data.ottawa, confirmed_at=local(22, 10), **near
    )
    # Neither a test letter nor an unconfirmed one counts, whatever it says.
    make_letter(
        campaign=data.campaign,
        municipality=data.ottawa,
        confirmed_at=local(22, 11),
        is_test=True,
        **near,
    )
    make_letter(campaign=data.campaign, municipality=data.ottawa, **near)

    by_municipality = letter_counts(campaign=data.campaign, by="municipality")
    assert simple(by_municipality, "name", "letters", "personal", "near_identical") == [
        ("Toronto", 5, 0, 0),
        ("Ottawa", 4, 2, 1),
        ("Montréal", 1, 0, 0),
    ]
    for by in ("province", "ward", "day"):
        rows = letter_counts(campaign=data.campaign, by=by)
        assert sum(row["personal"] for row in rows) == 2, by
        assert sum(row["near_identical"] for row in rows) == 1, by


def test_it_counts_each_campaign_on_its_own(data):
    assert letter_counts(campaign=data.other_campaign, by="municipality") == [
        {
            "municipality_id": data.montreal.pk,
            "letters": 1,
            "personal": 0,
            "near_identical": 0,
            "deliveries_sent": 1,
            "ocd_id": data.montreal.ocd_id,
            "name": "Montréal",
            "province": "QC",
        }
    ]


def test_it_returns_nothing_for_a_campaign_without_letters(data):
    empty = CampaignFactory()
    for by in ("municipality", "province", "ward", "day"):
        assert letter_counts(campaign=empty, by=by) == []
    assert letters_per_day(campaign=empty) == []


def test_it_rejects_an_unknown_grouping(data):
    with pytest.raises(ValueError, match="grouping"):
        letter_counts(campaign=data.campaign, by="postal_code")


def test_it_fills_days_without_letters_with_zero(data):
    make_letter(campaign=data.campaign, municipality=data.ottawa, confirmed_at=local(25, 12))

    assert letters_per_day(campaign=data.campaign) == [
        (date(2026, 11, 20), 3),
        (date(2026, 11, 21), 2),
        (date(2026, 11, 22), 3),
        (date(2026, 11, 23), 0),
        (date(2026, 11, 24), 0),
        (date(2026, 11, 25), 1),
    ]


def test_it_counts_delivery_health_of_real_letters(data):
    health = delivery_health(campaign=data.campaign)

    # The unconfirmed letter's delivery is real (it may still go out); the test letter's is not.
    assert health["sent"] == 5
    assert health["delivered"] == 4
    assert health["bounced"] == 1
    assert health["failed"] == 1
    assert health["complained"] == 1
    assert health["queued"] == 1
    assert health["no_email"] == 0


# --- export_counts command --------------------------------------------------------------------


def read_csv(text):
    return list(csv.reader(io.StringIO(text)))


def xlsx_rows(path):
    sheet = openpyxl.load_workbook(path, read_only=True).active
    return [list(row) for row in sheet.iter_rows(values_only=True)]


def test_export_counts_writes_a_dated_file_by_default(data, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    out = io.StringIO()

    with time_machine.travel(local(23, 9), tick=False):
        call_command("export_counts", "--campaign", "facial", "--by", "municipality", stdout=out)

    path = tmp_path / "counts-facial-municipality-2026-11-23.csv"
    assert "counts-facial-municipality-2026-11-23.csv" in out.getvalue()
    assert path.read_bytes().startswith(codecs.BOM_UTF8)  # Excel then reads "Montréal" right
    rows = read_csv(path.read_text(encoding="utf-8-sig"))
    assert rows[0] == ["OCD id", "Name", "Province", *FIGURES]
    assert rows[1:] == [
        ["ocd-division/country:ca/csd:3520005", "Toronto", "ON", "5", "0", "0", "6"],
        ["ocd-division/country:ca/csd:3506008", "Ottawa", "ON", "2", "0", "0", "2"],
        ["ocd-division/country:ca/csd:2466023", "Montréal", "QC", "1", "0", "0", "0"],
    ]


@pytest.mark.parametrize(
    ("by", "header", "first"),
    [
        (
            "province",
            ["Province", "Name", *FIGURES],
            ["ON", "Ontario", "7", "0", "0", "8"],
        ),
        ("day", ["Date", *FIGURES], ["2026-11-20", "3", "0", "0", "4"]),
        (
            "ward",
            [
                "Municipality OCD id",
                "Municipality",
                "Province",
                "Ward OCD id",
                "Ward",
                *FIGURES,
            ],
            [
                "ocd-division/country:ca/csd:3520005",
                "Toronto",
                "ON",
                "ocd-division/country:ca/csd:3520005/ward:1",
                "Ward 1",
                "3",
                "0",
                "0",
                "3",
            ],
        ),
    ],
)
def test_export_counts_writes_each_grouping(data, tmp_path, by, header, first):
    path = tmp_path / "counts.csv"

    call_command(
        "export_counts",
        "--campaign",
        "facial",
        "--by",
        by,
        "--output",
        str(path),
        stdout=io.StringIO(),
    )

    rows = read_csv(path.read_text(encoding="utf-8-sig"))
    assert rows[0] == header
    assert rows[1] == first


def test_export_counts_writes_xlsx_with_the_format_option(data, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)

    with time_machine.travel(local(23, 9), tick=False):
        call_command(
            "export_counts",
            "--campaign",
            "facial",
            "--by",
            "day",
            "--format",
            "xlsx",
            stdout=io.StringIO(),
        )

    rows = xlsx_rows(tmp_path / "counts-facial-day-2026-11-23.xlsx")
    assert rows[0] == ["Date", *FIGURES]
    assert rows[1] == [datetime(2026, 11, 20), 3, 0, 0, 4]
    assert len(rows) == 1 + 3


def test_export_counts_sends_no_xlsx_to_stdout(data):
    with pytest.raises(CommandError, match="--output FILE"):
        call_command(
            "export_counts",
            "--campaign",
            "facial",
            "--by",
            "day",
            "--format",
            "xlsx",
            "--output",
            "-",
        )


def test_export_counts_rejects_an_unknown_format(data):
    with pytest.raises(CommandError):
        call_command("export_counts", "--campaign", "facial", "--by", "day", "--format", "ods")


def test_export_counts_writes_to_stdout_with_a_dash(data):
    out = io.StringIO()

    call_command(
        "export_counts", "--campaign", "facial", "--by", "province", "--output", "-", stdout=out
    )

    assert not out.getvalue().startswith("\ufeff")  # no byte order mark in a pipe
    assert read_csv(out.getvalue()) == [
        ["Province", "Name", *FIGURES],
        ["ON", "Ontario", "7", "0", "0", "8"],
        ["QC", "Quebec", "1", "0", "0", "0"],
    ]


def test_export_counts_rejects_an_unknown_campaign(data):
    with pytest.raises(CommandError, match="nope"):
        call_command("export_counts", "--campaign", "nope", "--by", "day", "--output", "-")


def test_export_counts_rejects_an_unknown_grouping(data):
    with pytest.raises(CommandError):
        call_command("export_counts", "--campaign", "facial", "--by", "street")
