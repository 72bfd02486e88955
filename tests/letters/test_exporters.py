import csv
import getpass
import io
import os
import stat
from datetime import datetime

import openpyxl
import pytest
import time_machine
from django.core.management import call_command
from django.utils import timezone
from hypothesis import given
from hypothesis import strategies as st

from letters.exporters import CountsExporter, SignersExporter, _csv_chunks, escape_cell
from letters.models import SignerExportLog
from tests.factories import CampaignFactory, MunicipalityFactory, UserFactory
from tests.letters.counts_data import FIGURES, build_counts_data, local, make_letter

SIGNER_HEADER = [
    "First name",
    "Last name",
    "Email",
    "Postal code",
    "Municipality",
    "Province",
    "Language",
    "Consent",
    "Consent time",
    "Date",
]


def read_csv(chunks):
    return list(csv.reader(io.StringIO("".join(chunks).removeprefix("\ufeff"))))


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ('=HYPERLINK("http://evil")', '\'=HYPERLINK("http://evil")'),
        ("+1 613 555 0100", "'+1 613 555 0100"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\t=1"),
        ("Jean-Luc", "Jean-Luc"),
        ("a=b", "a=b"),
        ("", ""),
        (7, 7),
        (None, None),
    ],
)
def test_it_escapes_cells_that_a_spreadsheet_would_run(value, expected):
    assert escape_cell(value) == expected


@pytest.fixture
def campaign(db):
    return CampaignFactory(slug="facial")


@pytest.fixture
def ottawa(db):
    return MunicipalityFactory(name="Ottawa", province="ON")


def test_counts_exporter_names_its_file_after_campaign_grouping_and_date(campaign):
    with time_machine.travel(local(21, 23, 59), tick=False):
        # 23:59 in Toronto is already the 22nd in UTC: the file is named after the local date.
        assert CountsExporter(campaign=campaign, by="ward").get_filename() == (
            "counts-facial-ward-2026-11-21.csv"
        )


def test_counts_exporter_rejects_an_unknown_grouping(campaign):
    with pytest.raises(ValueError):
        CountsExporter(campaign=campaign, by="email")


@pytest.mark.django_db
def test_counts_exporter_escapes_municipality_names():
    data = build_counts_data()
    data.ottawa.name = "=cmd|' /C calc'!A0"
    data.ottawa.save()

    rows = read_csv(CountsExporter(campaign=data.campaign, by="municipality").iter_csv())

    assert rows[2][1] == "'=cmd|' /C calc'!A0"


def test_signers_exporter_writes_one_row_per_counted_letter(campaign, ottawa):
    make_letter(
        campaign=campaign,
        municipality=ottawa,
        confirmed_at=local(20, 23, 30),
        first_name="Ada",
        last_name="Lovelace",
        email="ada@example.org",
        postal_code="K1A 0B1",
        language="fr",
        consent_given=True,
        consent_at=local(20, 23, 29),
    )
    make_letter(
        campaign=campaign,
        municipality=ottawa,
        confirmed_at=local(21, 8),
        first_name="Bob",
        last_name="Smith",
        email="bob@example.org",
    )
    make_letter(campaign=campaign, municipality=ottawa, confirmed_at=None, first_name="Pending")
    make_letter(
        campaign=campaign,
        municipality=ottawa,
        confirmed_at=local(21, 9),
        first_name="Test",
        is_test=True,
    )
    make_letter(
        campaign=campaign,
        municipality=ottawa,
        confirmed_at=local(21, 9),
        first_name="",
        last_name="",
        email="",
        purged_at=timezone.now(),
    )
    make_letter(
        campaign=CampaignFactory(),
        municipality=ottawa,
        confirmed_at=local(21, 9),
        first_name="Other",
    )

    rows = read_csv(SignersExporter(campaign=campaign, actor="tester").iter_csv())

    assert rows == [
        SIGNER_HEADER,
        [
            "Ada",
            "Lovelace",
            "ada@example.org",
            "K1A 0B1",
            "Ottawa",
            "ON",
            "fr",
            "yes",
            "2026-11-20 23:29:00",
            "2026-11-20",
        ],
        [
            "Bob",
            "Smith",
            "bob@example.org",
            "M5V 2T6",
            "Ottawa",
            "ON",
            "en",
            "no",
            "",
            "2026-11-21",
        ],
    ]


def test_signers_exporter_can_keep_only_those_who_consented(campaign, ottawa):
    make_letter(
        campaign=campaign,
        municipality=ottawa,
        confirmed_at=local(20, 9),
        first_name="Ada",
        consent_given=True,
        consent_at=local(20, 9),
    )
    make_letter(campaign=campaign, municipality=ottawa, confirmed_at=local(20, 9), first_name="Bob")

    exporter = SignersExporter(campaign=campaign, consented_only=True, actor="tester")
    rows = read_csv(exporter.iter_csv())

    assert [row[0] for row in rows[1:]] == ["Ada"]
    assert exporter.get_filename().startswith("signers-facial-consented-")


def test_signers_exporter_escapes_formulas_typed_by_residents(campaign, ottawa):
    make_letter(
        campaign=campaign,
        municipality=ottawa,
        confirmed_at=local(20, 9),
        first_name='=HYPERLINK("http://evil.example","x")',
        last_name="+SUM(1)",
        email="-1@example.org",
        postal_code="@A1",
    )

    rows = read_csv(SignersExporter(campaign=campaign, actor="tester").iter_csv())

    assert rows[1][:4] == [
        '\'=HYPERLINK("http://evil.example","x")',
        "'+SUM(1)",
        "'-1@example.org",
        "'@A1",
    ]


def test_signers_exporter_logs_who_exported_how_many_rows(campaign, ottawa):
    user = UserFactory(username="organizer")
    for _ in range(3):
        make_letter(campaign=campaign, municipality=ottawa, confirmed_at=local(20, 9))

    with time_machine.travel(local(23, 10), tick=False):
        chunks = list(SignersExporter(campaign=campaign, user=user).iter_csv())

    assert len(read_csv(chunks)) == 4
    log = SignerExportLog.objects.get()
    assert (log.campaign, log.user, log.actor, log.source, log.rows) == (
        campaign,
        user,
        "organizer",
        SignerExportLog.Source.ADMIN,
        3,
    )
    assert log.consented_only is False
    assert log.started_at == log.finished_at == local(23, 10)


def test_signers_exporter_streams_in_chunks_and_logs_an_interrupted_export(
    campaign, ottawa, monkeypatch
):
    monkeypatch.setattr("letters.exporters.CHUNK_ROWS", 2)
    for _ in range(5):
        make_letter(campaign=campaign, municipality=ottawa, confirmed_at=local(20, 9))

    stream = SignersExporter(campaign=campaign, actor="tester").iter_csv()
    first = next(stream)
    stream.close()

    # The header and the first row make the first chunk of two rows.
    assert len(read_csv([first])) == 2
    log = SignerExportLog.objects.get()
    assert log.rows == 1
    assert log.finished_at is None


# --- XLSX ----------------------------------------------------------------------------------------


def read_xlsx(chunks):
    workbook = openpyxl.load_workbook(io.BytesIO(b"".join(chunks)), read_only=True)
    return [list(row) for row in workbook.active.iter_rows(values_only=True)]


def as_csv_text(rows):
    """Cells as a CSV reader reads them back: text, empty for None."""
    return [["" if value is None else str(value) for value in row] for row in rows]


def test_xlsx_holds_the_same_rows_as_the_csv_with_formulas_escaped(campaign, ottawa):
    make_letter(
        campaign=campaign,
        municipality=ottawa,
        confirmed_at=local(20, 9),
        first_name='=HYPERLINK("http://evil.example","x")',
        last_name="+SUM(1)",
        email="-1@example.org",
        postal_code="@A1",
    )
    make_letter(campaign=campaign, municipality=ottawa, confirmed_at=local(21, 9), first_name="Zoë")
    exporter = SignersExporter(campaign=campaign, actor="tester")

    xlsx = read_xlsx(exporter.render("xlsx"))
    csv_rows = read_csv(exporter.render("csv"))

    assert as_csv_text(xlsx) == csv_rows
    assert xlsx[0] == SIGNER_HEADER
    assert xlsx[1][:4] == [
        '\'=HYPERLINK("http://evil.example","x")',
        "'+SUM(1)",
        "'-1@example.org",
        "'@A1",
    ]
    assert xlsx[2][0] == "Zoë"
    # Stored as text, never as a formula.
    workbook = openpyxl.load_workbook(io.BytesIO(b"".join(exporter.render("xlsx"))))
    assert workbook.active["A2"].data_type == "s"


@pytest.mark.django_db
def test_xlsx_keeps_numbers_and_dates_as_such():
    data = build_counts_data()

    rows = read_xlsx(CountsExporter(campaign=data.campaign, by="day").render("xlsx"))

    assert rows[0] == ["Date", *FIGURES]
    assert rows[1] == [datetime(2026, 11, 20), 3, 0, 0, 4]


@pytest.mark.django_db
def test_xlsx_drops_control_characters_that_xlsx_cannot_hold():
    data = build_counts_data()
    data.ottawa.name = "Ott\x07awa"
    data.ottawa.save()

    rows = read_xlsx(CountsExporter(campaign=data.campaign, by="municipality").render("xlsx"))

    assert rows[2][1] == "Ottawa"


def test_xlsx_export_of_signers_is_logged_like_the_csv(campaign, ottawa):
    for _ in range(3):
        make_letter(campaign=campaign, municipality=ottawa, confirmed_at=local(20, 9))
    exporter = SignersExporter(campaign=campaign, actor="tester")

    assert exporter.get_filename("xlsx").endswith(".xlsx")
    rows = read_xlsx(exporter.render("xlsx"))

    assert len(rows) == 4
    log = SignerExportLog.objects.get()
    assert (log.rows, log.actor) == (3, "tester")
    assert log.finished_at is not None


def test_it_refuses_an_unknown_format(campaign):
    with pytest.raises(ValueError):
        CountsExporter(campaign=campaign, by="day").get_filename("ods")


# --- export_signers command -------------------------------------------------------------------


def test_export_signers_command_writes_a_private_file_and_logs_the_os_user(
    campaign, ottawa, tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    make_letter(campaign=campaign, municipality=ottawa, confirmed_at=local(20, 9), first_name="Ada")
    out = io.StringIO()

    with time_machine.travel(local(23, 10), tick=False):
        call_command("export_signers", "--campaign", "facial", stdout=out)

    path = tmp_path / "signers-facial-2026-11-23.csv"
    rows = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8-sig"))))
    assert rows[0] == SIGNER_HEADER
    assert rows[1][0] == "Ada"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert "Wrote 1 signers of facial" in out.getvalue()
    log = SignerExportLog.objects.get()
    assert (log.user, log.actor, log.source, log.rows) == (
        None,
        getpass.getuser(),
        SignerExportLog.Source.COMMAND,
        1,
    )


def test_export_signers_command_writes_a_private_xlsx_with_the_format_option(
    campaign, ottawa, tmp_path
):
    make_letter(campaign=campaign, municipality=ottawa, confirmed_at=local(20, 9), first_name="Ada")
    path = tmp_path / "signers.xlsx"

    call_command(
        "export_signers",
        "--campaign",
        "facial",
        "--format",
        "xlsx",
        "--output",
        str(path),
        stdout=io.StringIO(),
    )

    assert read_xlsx([path.read_bytes()])[1][0] == "Ada"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert SignerExportLog.objects.get().rows == 1


def test_export_signers_command_keeps_only_consent_with_the_flag(campaign, ottawa, tmp_path):
    make_letter(
        campaign=campaign,
        municipality=ottawa,
        confirmed_at=local(20, 9),
        first_name="Ada",
        consent_given=True,
        consent_at=local(20, 9),
    )
    make_letter(campaign=campaign, municipality=ottawa, confirmed_at=local(20, 9), first_name="Bob")
    path = tmp_path / "out.csv"

    call_command(
        "export_signers",
        "--campaign",
        "facial",
        "--consented-only",
        "--output",
        str(path),
        stdout=io.StringIO(),
    )

    rows = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8-sig"))))
    assert [row[0] for row in rows] == ["First name", "Ada"]
    log = SignerExportLog.objects.get()
    assert log.consented_only is True
    assert log.rows == 1


def test_export_signers_command_falls_back_to_command_line_without_an_os_user(
    campaign, ottawa, tmp_path, monkeypatch
):
    def no_user():
        raise KeyError("uid not found")

    monkeypatch.setattr("letters.exporters.getpass.getuser", no_user)

    call_command(
        "export_signers",
        "--campaign",
        "facial",
        "--output",
        str(tmp_path / "x.csv"),
        stdout=io.StringIO(),
    )

    assert SignerExportLog.objects.get().actor == "command line"


# --- the CSV writer's fast path -----------------------------------------------------------------


cell = st.text(alphabet=st.characters(blacklist_characters="\x00"), max_size=12)


@given(st.lists(st.lists(cell, min_size=2, max_size=5), max_size=20))
def test_csv_reads_back_as_the_rows_with_only_formulas_escaped(rows):
    text = "".join(_csv_chunks(rows, text_columns=None))

    expected = [[escape_cell(value) for value in row] for row in rows]
    assert list(csv.reader(io.StringIO(text, newline=""))) == expected


def test_csv_fast_path_writes_what_the_csv_module_writes():
    rows = [
        ["Ada", "Lovelace", "ada@example.org"],
        ["O'Brien", "a b", ""],
        ["comma, inside", 'a "quote"', "line\nbreak"],
        ["=1+1", "x", "-y"],
        [1, None, 2.5],
    ]
    buffer = io.StringIO()
    csv.writer(buffer).writerows([[escape_cell(value) for value in row] for row in rows])

    assert "".join(_csv_chunks(rows)) == buffer.getvalue()
