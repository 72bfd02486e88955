"""CSV exports: signature counts (no personal data) and signers (personal data).

One class per export. Each yields its header row and then its data rows from iter_rows();
the base class turns those rows into CSV text, in chunks, so a download or a file is written
as the rows arrive from the database and memory stays flat however many rows there are.
"""

import csv
import getpass
import io
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from campaigns.models import Campaign

from .models import SignerExportLog
from .selectors import letter_counts, signer_export_queryset

# A spreadsheet runs a cell starting with one of these as a formula (CSV injection). Tab and
# carriage return are on OWASP's list too: some spreadsheets strip them and then see "=".
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

# Rows per chunk handed to the response or the file, and per database fetch.
CHUNK_ROWS = 2000


def escape_cell(value: Any) -> Any:
    """Defuse a text cell a spreadsheet would run as a formula by prefixing a quote."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


class CSVExporter:
    identifier = ""
    verbose_name = ""

    def get_filename(self) -> str:
        raise NotImplementedError

    def iter_rows(self) -> Iterator[Sequence[Any]]:
        """The header row, then the data rows."""
        raise NotImplementedError

    def iter_csv(self) -> Iterator[str]:
        """The CSV text in chunks of CHUNK_ROWS rows, every cell escaped."""
        return _csv_chunks(self.iter_rows())

    def write(self, file) -> None:
        for chunk in self.iter_csv():
            file.write(chunk)


def _dated_filename(*parts: str) -> str:
    return "-".join([*parts, timezone.localdate().isoformat()]) + ".csv"


class CountsExporter(CSVExporter):
    identifier = "counts"
    verbose_name = _("Signature counts")

    HEADERS = {
        "municipality": [_("OCD id"), _("Name"), _("Province"), _("Letters"), _("Deliveries sent")],
        "province": [_("Province"), _("Name"), _("Letters"), _("Deliveries sent")],
        "ward": [
            _("Municipality OCD id"),
            _("Municipality"),
            _("Province"),
            _("Ward OCD id"),
            _("Ward"),
            _("Letters"),
            _("Deliveries sent"),
        ],
        "day": [_("Date"), _("Letters"), _("Deliveries sent")],
    }
    COLUMNS = {
        "municipality": ["ocd_id", "name", "province"],
        "province": ["province", "name"],
        "ward": ["ocd_id", "name", "province", "ward_ocd_id", "ward_name"],
        "day": ["day"],
    }

    def __init__(self, *, campaign: Campaign, by: str):
        if by not in self.HEADERS:
            raise ValueError(f"Unknown grouping {by!r}.")
        self.campaign = campaign
        self.by = by

    def get_filename(self) -> str:
        return _dated_filename("counts", self.campaign.slug, self.by)

    def iter_rows(self) -> Iterator[Sequence[Any]]:
        yield [str(header) for header in self.HEADERS[self.by]]
        columns = [*self.COLUMNS[self.by], "letters", "deliveries_sent"]
        for row in letter_counts(campaign=self.campaign, by=self.by):
            yield [row[column] for column in columns]


class SignersExporter(CSVExporter):
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
        "consent_given",
        "consent_at",
        "created_at",
    )

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

    def get_filename(self) -> str:
        parts = ["signers", self.campaign.slug] + (["consented"] if self.consented_only else [])
        return _dated_filename(*parts)

    def iter_rows(self) -> Iterator[Sequence[Any]]:
        yield [str(header) for header in self.HEADERS]
        tz = timezone.get_default_timezone()
        yes, no = str(_("yes")), str(_("no"))
        queryset = signer_export_queryset(
            campaign=self.campaign, consented_only=self.consented_only
        ).values_list(*self.FIELDS)
        # Tuples straight from a server-side cursor (PostgreSQL), CHUNK_ROWS at a time.
        for (
            first_name,
            last_name,
            email,
            postal_code,
            municipality,
            province,
            language,
            consent,
            consent_at,
            created_at,
        ) in queryset.iterator(chunk_size=CHUNK_ROWS):
            yield (
                first_name,
                last_name,
                email,
                postal_code,
                municipality,
                province,
                language,
                yes if consent else no,
                consent_at.astimezone(tz).isoformat(timespec="seconds") if consent_at else "",
                created_at.astimezone(tz).date().isoformat(),
            )

    def iter_csv(self) -> Iterator[str]:
        """The CSV, logged: the log row is written before the first byte and gets the row
        count at the end. An interrupted download keeps an empty finished time."""
        log = SignerExportLog.objects.create(
            campaign=self.campaign,
            user=self.user,
            actor=self.actor or command_line_actor(),
            source=self.source,
            consented_only=self.consented_only,
        )
        self.log = log
        counter = _RowCounter(self.iter_rows)
        finished = False
        try:
            yield from _csv_chunks(counter)
            finished = True
        finally:
            SignerExportLog.objects.filter(pk=log.pk).update(
                rows=max(counter.count - 1, 0),  # minus the header
                finished_at=timezone.now() if finished else None,
            )


class _RowCounter:
    def __init__(self, rows):
        self.rows = rows
        self.count = 0

    def __iter__(self):
        for row in self.rows():
            self.count += 1
            yield row


def _csv_chunks(rows: Iterable[Sequence[Any]]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    for number, row in enumerate(rows, 1):
        writer.writerow([escape_cell(value) for value in row])
        if number % CHUNK_ROWS == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    if buffer.tell():
        yield buffer.getvalue()


def command_line_actor() -> str:
    """Who runs a command: the operating-system user, when there is one."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "command line"


EXPORTERS = [CountsExporter, SignersExporter]
