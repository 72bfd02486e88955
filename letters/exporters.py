"""CSV and XLSX exports: signature counts (no personal data) and signers (personal data).

One class per export. Each yields its header row and then its data rows from iter_rows(); the
base class, Exporter, renders those rows as CSV text in chunks (after a UTF-8 byte order mark,
so Excel reads "Montréal" right) or as an XLSX workbook (openpyxl's write-only mode, which
streams the rows to a temporary file). Either way the rows arrive from the database as the
file is written, and memory stays flat however many rows there are.
"""

import csv
import getpass
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Case, CharField, Value, When
from django.db.models.functions import Cast, Coalesce, TruncDate, TruncSecond
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

from campaigns.models import Campaign

from .models import SignerExportLog
from .selectors import letter_counts, responsiveness, signer_export_queryset

CONTENT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
FORMATS = tuple(CONTENT_TYPES)
# Without it Excel reads a CSV as Windows-1252 and shows "MontrÃ©al".
BOM = "\ufeff"
# Bytes per chunk of an XLSX file handed to the response.
XLSX_CHUNK_BYTES = 64 * 1024

# A spreadsheet runs a cell starting with one of these as a formula (CSV injection). Tab and
# carriage return are on OWASP's list too: some spreadsheets strip them and then see "=".
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _needs_csv(joined: str) -> bool:
    """Whether a row, its cells joined behind NUL separators, needs the csv module.

    A formula trigger right after a NUL starts a cell (PostgreSQL text never holds NUL); a
    comma, quote or line break anywhere needs quoting. Plain substring tests: twice as fast
    as one regular expression, and this runs for every row.
    """
    return (
        "," in joined
        or '"' in joined
        or "\n" in joined
        or "\r" in joined
        or "\x00=" in joined
        or "\x00+" in joined
        or "\x00-" in joined
        or "\x00@" in joined
        or "\x00\t" in joined
    )


# Rows per chunk handed to the response or the file, and per database fetch.
CHUNK_ROWS = 5000


def escape_cell(value: Any) -> Any:
    """Defuse a text cell a spreadsheet would run as a formula by prefixing a quote."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


class Exporter:
    """Renders an export's rows (iter_rows) as CSV or XLSX."""

    identifier = ""
    verbose_name = ""
    # Positions of the columns whose text comes from people (always str): only those are
    # checked for formulas in CSV, which keeps big exports fast. None: check every cell.
    text_columns: tuple[int, ...] | None = None

    def get_filename(self, file_format: str = "csv") -> str:
        raise NotImplementedError

    def iter_rows(self) -> Iterator[Sequence[Any]]:
        """The header row, then the data rows."""
        raise NotImplementedError

    def render(self, file_format: str = "csv", *, bom: bool = True) -> Iterator[str | bytes]:
        """The file in chunks: CSV text (starting with a byte order mark unless bom is
        False) or XLSX bytes, formula cells escaped either way."""
        return self._render(file_format, bom=bom)

    def iter_csv(self) -> Iterator[str]:
        return self.render("csv")

    def write(self, file, file_format: str = "csv", *, bom: bool = True) -> None:
        """Write the export to an open file: a text file for CSV, a binary one for XLSX."""
        for chunk in self.render(file_format, bom=bom):
            file.write(chunk)

    def _render(self, file_format: str, counter=None, *, bom: bool = True):
        if file_format == "csv":
            return _csv_chunks(
                self.iter_rows(), self.text_columns, counter, prefix=BOM if bom else ""
            )
        if file_format == "xlsx":
            return _xlsx_chunks(self.iter_rows(), str(self.verbose_name), counter)
        raise ValueError(f"Unknown format {file_format!r}.")


def _dated_filename(*parts: str, file_format: str = "csv") -> str:
    if file_format not in CONTENT_TYPES:
        raise ValueError(f"Unknown format {file_format!r}.")
    return "-".join([*parts, timezone.localdate().isoformat()]) + "." + file_format


class CountsExporter(Exporter):
    identifier = "counts"
    verbose_name = _("Signature counts")

    HEADERS = {
        "municipality": [_("OCD id"), _("Name"), _("Province")],
        "province": [_("Province"), _("Name")],
        "ward": [
            _("Municipality OCD id"),
            _("Municipality"),
            _("Province"),
            _("Ward OCD id"),
            _("Ward"),
        ],
        "day": [_("Date")],
    }
    COLUMNS = {
        "municipality": ["ocd_id", "name", "province"],
        "province": ["province", "name"],
        "ward": ["ocd_id", "name", "province", "ward_ocd_id", "ward_name"],
        "day": ["day"],
    }
    # After each grouping's own columns (letters.selectors.letter_counts).
    FIGURE_HEADERS = [
        _("Letters"),
        _("With a personal part"),
        _("Nearly identical personal parts"),
        _("Deliveries sent"),
    ]
    FIGURES = ["letters", "personal", "near_identical", "deliveries_sent"]

    def __init__(self, *, campaign: Campaign, by: str):
        if by not in self.HEADERS:
            raise ValueError(f"Unknown grouping {by!r}.")
        self.campaign = campaign
        self.by = by

    def get_filename(self, file_format: str = "csv") -> str:
        return _dated_filename("counts", self.campaign.slug, self.by, file_format=file_format)

    def iter_rows(self) -> Iterator[Sequence[Any]]:
        yield self.headers()
        for row in letter_counts(campaign=self.campaign, by=self.by):
            yield self.cells(row)

    def headers(self) -> list[str]:
        """The header row (also the counts page's table)."""
        return [str(header) for header in [*self.HEADERS[self.by], *self.FIGURE_HEADERS]]

    def cells(self, row: dict) -> list[Any]:
        """A letter_counts row's cells, in the headers' order."""
        return [row[column] for column in [*self.COLUMNS[self.by], *self.FIGURES]]


class ResponsivenessExporter(Exporter):
    """Per councillor: letters delivered, residents who answered the follow-up, replies
    reported and the median days to a reply (letters.selectors.responsiveness). No
    resident's data; representatives are public record."""

    identifier = "responsiveness"
    verbose_name = _("Responsiveness")

    HEADERS = [
        _("Municipality OCD id"),
        _("Municipality"),
        _("Province"),
        _("Representative"),
        _("Role"),
        _("Letters delivered"),
        _("Residents who answered"),
        _("Replies reported"),
        _("Median days to a reply"),
    ]
    COLUMNS = ["ocd_id", "name", "province", "representative", "role"]
    FIGURES = ["delivered", "answered", "replied", "median_days"]
    # Imported names (municipalities, representatives).
    text_columns = (0, 1, 2, 3, 4)

    def __init__(self, *, campaign: Campaign, by: str = "councillor"):
        self.campaign = campaign
        self.by = by

    def get_filename(self, file_format: str = "csv") -> str:
        return _dated_filename("counts", self.campaign.slug, self.by, file_format=file_format)

    def iter_rows(self) -> Iterator[Sequence[Any]]:
        yield [str(header) for header in self.HEADERS]
        for row in responsiveness(campaign=self.campaign, by="councillor"):
            yield self.cells(row)

    @classmethod
    def cells(cls, row: dict) -> list[Any]:
        """A responsiveness row's cells. A median of whole days is a whole or a half day
        (3, 3.5); it is empty when no reply with a date was reported."""
        cells = [row[column] for column in [*cls.COLUMNS, *cls.FIGURES]]
        median = cells[-1]
        cells[-1] = "" if median is None else (int(median) if median == int(median) else median)
        return cells


def counts_exporter(*, campaign: Campaign, by: str) -> Exporter:
    """The exporter of export_counts and the counts page's downloads for a grouping:
    signature counts, or responsiveness per councillor."""
    if by == "councillor":
        return ResponsivenessExporter(campaign=campaign)
    return CountsExporter(campaign=campaign, by=by)


# The groupings export_counts and the counts page's downloads offer.
EXPORT_GROUPINGS = ("municipality", "province", "ward", "day", "councillor")


class SignersExporter(Exporter):
    """Who wrote, for organizers with the export_signers permission. Every run is logged."""

    identifier = "signers"
    verbose_name = _("Signers")

    HEADERS = [
        _("First name"),
        _("Last name"),
        _("Email"),
        _("Postal code"),
        _("Municipality"),
        _("Province"),
        _("Language"),
        _("Consent"),
        _("Consent time"),
        _("Date"),
    ]
    FIELDS = (
        "first_name",
        "last_name",
        "email",
        "postal_code",
        "municipality__name",
        "municipality__province",
        "language",
    )
    # Typed by residents, or imported (municipality names).
    text_columns = (0, 1, 2, 3, 4)

    def __init__(
        self,
        *,
        campaign: Campaign,
        consented_only: bool = False,
        user: AbstractBaseUser | None = None,
        actor: str = "",
        source: str = SignerExportLog.Source.ADMIN,
    ):
        self.campaign = campaign
        self.consented_only = consented_only
        self.user = user
        self.actor = actor or (user.get_username() if user else "")
        self.source = source

    def get_filename(self, file_format: str = "csv") -> str:
        parts = ["signers", self.campaign.slug] + (["consented"] if self.consented_only else [])
        return _dated_filename(*parts, file_format=file_format)

    def iter_rows(self) -> Iterator[Sequence[Any]]:
        yield [str(header) for header in self.HEADERS]
        # The database writes every cell as text, times in the site's time zone
        # ("2026-11-20 23:29:00", which spreadsheets read as a date and time): loading
        # datetimes and formatting them in Python took longer than everything else together.
        tz = timezone.get_default_timezone()
        text = CharField()
        queryset = signer_export_queryset(
            campaign=self.campaign, consented_only=self.consented_only
        ).values_list(
            *self.FIELDS,
            Case(
                When(consent_given=True, then=Value(str(_("yes")))),
                default=Value(str(_("no"))),
                output_field=text,
            ),
            Coalesce(
                Cast(TruncSecond("consent_at", tzinfo=tz), output_field=text),
                Value(""),
                output_field=text,
            ),
            Cast(TruncDate("created_at", tzinfo=tz), output_field=text),
        )
        # Plain tuples from a server-side cursor (PostgreSQL), CHUNK_ROWS at a time.
        yield from queryset.iterator(chunk_size=CHUNK_ROWS)

    def render(self, file_format: str = "csv", *, bom: bool = True) -> Iterator[str | bytes]:
        """The file, logged: the log row is written before the first byte and gets the row
        count at the end. An interrupted download keeps an empty finished time."""
        log = SignerExportLog.objects.create(
            campaign=self.campaign,
            user=self.user,
            actor=self.actor or command_line_actor(),
            source=self.source,
            consented_only=self.consented_only,
        )
        self.log = log
        counter = _RowCounter()
        finished = False
        try:
            yield from self._render(file_format, counter, bom=bom)
            finished = True
        finally:
            SignerExportLog.objects.filter(pk=log.pk).update(
                rows=max(counter.count - 1, 0),  # minus the header
                finished_at=timezone.now() if finished else None,
            )


class _RowCounter:
    def __init__(self):
        self.count = 0


def _csv_chunks(
    rows: Iterable[Sequence[Any]],
    text_columns: tuple[int, ...] | None = None,
    counter: _RowCounter | None = None,
    prefix: str = "",
) -> Iterator[str]:
    """CSV text, CHUNK_ROWS rows at a time, with formula cells escaped; prefix (the byte
    order mark) starts the first chunk.

    Most rows of a big export are plain text that needs neither quoting nor escaping: those
    are joined with commas directly, several times faster than the csv module. Any other row
    (a number, a comma, a quote, a line break, a formula) goes through the csv module.
    """
    lines: list[str] = []
    writer = csv.writer(_LineSink(lines))
    count = 0
    for row in rows:
        try:
            joined = "\x00" + "\x00".join(row)
        except TypeError:  # not all text
            joined = ""
        if joined and len(row) > 1 and not _needs_csv(joined):
            lines.append(joined[1:].replace("\x00", ",") + "\r\n")
        else:
            writer.writerow(_escape_row(row, text_columns))
        count += 1
        if len(lines) >= CHUNK_ROWS:
            if counter is not None:
                counter.count = count
            yield prefix + "".join(lines)
            prefix = ""
            lines.clear()
    if counter is not None:
        counter.count = count
    if lines or prefix:
        yield prefix + "".join(lines)


def _xlsx_chunks(
    rows: Iterable[Sequence[Any]], title: str, counter: _RowCounter | None = None
) -> Iterator[bytes]:
    """An XLSX workbook of one sheet, in chunks of bytes. openpyxl's write-only mode writes
    each row to a temporary file as it comes; the workbook is zipped once all are in.

    Every text cell is escaped as in the CSV: openpyxl would store text starting with "=" as a
    formula, and spreadsheets run "+", "-" and "@" too. Control characters, which XLSX
    cannot hold, are dropped.
    """
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title=_sheet_title(title))
    for count, row in enumerate(rows, 1):
        sheet.append([_xlsx_cell(value) for value in row])
        if counter is not None:
            counter.count = count
    with tempfile.TemporaryFile() as file:
        workbook.save(file)
        file.seek(0)
        while chunk := file.read(XLSX_CHUNK_BYTES):
            yield chunk


def _xlsx_cell(value: Any) -> Any:
    if isinstance(value, str):
        return escape_cell(ILLEGAL_CHARACTERS_RE.sub("", value))
    return value


def _sheet_title(title: str) -> str:
    """A worksheet name Excel accepts: at most 31 characters, none of []:*?/\\."""
    cleaned = "".join(" " if char in "[]:*?/\\" else char for char in title).strip()
    return cleaned[:31] or "Sheet"


def _escape_row(row: Sequence[Any], text_columns: tuple[int, ...] | None) -> list[Any]:
    if text_columns is None:
        return [escape_cell(value) for value in row]
    return [
        escape_cell(value) if index in text_columns else value for index, value in enumerate(row)
    ]


class _LineSink:
    """A file-like object for csv.writer that collects lines in a list."""

    def __init__(self, lines: list[str]):
        self.write = lines.append


def command_line_actor() -> str:
    """Who runs a command: the operating-system user, when there is one."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "command line"


EXPORTERS = [CountsExporter, ResponsivenessExporter, SignersExporter]
