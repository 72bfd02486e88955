"""Reading the files the importers take: OCD identifier CSVs, Open North CSVs, Represent JSON.

Everything here turns bytes into plain dicts; the importers (import_*.py, sync_represent.py)
decide what to write.
"""

import csv
import io
import json
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import requests
from django.conf import settings
from django.utils.translation import gettext as _

from .cleaning import fix_text, normalise_district

OCD_COUNTRY_CA_URL = (
    "https://raw.githubusercontent.com/opencivicdata/ocd-division-ids/master/identifiers/"
    "country-ca.csv"
)
# The filtered files in shared/data/ocd/, read in this order when given the directory.
OCD_DIRECTORY_FILES = (
    "ca_census_divisions.csv",
    "ca_census_subdivisions.csv",
    "ca_municipal_subdivisions.csv",
)


class SourceError(Exception):
    """The file or URL could not be read or is not in a format we know."""


def is_url(value: str) -> bool:
    return value.startswith(("http://", "https://"))


def read_bytes(path_or_url: str) -> bytes:
    if is_url(path_or_url):
        timeout = float(getattr(settings, "REPRESENT_TIMEOUT", 5)) * 6
        try:
            response = requests.get(path_or_url, timeout=timeout)
            response.raise_for_status()
        except requests.RequestException as exc:
            raise SourceError(f"could not download {path_or_url}: {exc}") from exc
        return response.content
    path = Path(path_or_url)
    if not path.exists():
        raise SourceError(f"no such file: {path_or_url}")
    return path.read_bytes()


def decode(data: bytes) -> str:
    """UTF-8 with or without a BOM, else windows-1252 (what Excel on Windows saves)."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    # NUL bytes carry nothing in a CSV or JSON file, and PostgreSQL refuses them in text.
    data = data.replace(b"\x00", b"")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def csv_rows(text: str) -> tuple[list[str], list[tuple[int, dict]]]:
    """Parse CSV text with a comma or semicolon delimiter.

    Returns the header and (line number, row) pairs; line numbers count the header as line 1,
    as a spreadsheet shows them. Raises SourceError when a line cannot be read as CSV.
    """
    header, rows = csv_reader(text)
    return header, list(rows)


def csv_reader(text: str) -> tuple[list[str], Iterator[tuple[int, dict]]]:
    """csv_rows, with the rows read one at a time (a large file is never a list of dicts).

    The header is read at once; the rows raise SourceError, naming the line where the
    record starts, when the text is not CSV (a field longer than csv.field_size_limit(), the
    usual sign of an opening quote never closed).
    """
    end = text.find("\n")
    first_line = text if end == -1 else text[:end]
    delimiter = ";" if first_line.count(";") > first_line.count(",") else ","
    if first_line.count("\t") > max(first_line.count(";"), first_line.count(",")):
        delimiter = "\t"
    reader = csv.reader(_lines(text), delimiter=delimiter)
    try:
        header = [cell.strip() for cell in _next_record(reader)]
    except StopIteration:
        return [], iter(())
    return header, _csv_records(reader, header)


# A line with its ending, split as io.StringIO(text, newline="") splits it.
_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+")


def _lines(text: str) -> Iterator[str]:
    """The lines of the text, one at a time. io.StringIO copies the text into a buffer four
    bytes a character: checking a 10 MB upload peaked at 50 MB and took 1.3 s with it, 20 MB
    and 0.65 s with this."""
    for match in _LINE.finditer(text):
        yield match.group()


def _csv_records(reader, header: list[str]) -> Iterator[tuple[int, dict]]:
    while True:
        try:
            row = _next_record(reader)
        except StopIteration:
            return
        if not any(cell.strip() for cell in row):
            continue
        yield reader.line_num, dict(zip(header, row, strict=False))


def _next_record(reader) -> list[str]:
    start = reader.line_num + 1
    try:
        return next(reader)
    except csv.Error as exc:
        if "field limit" in str(exc):
            message = _(
                'Line %(line)s: a field is longer than %(limit)s characters. A quote (") that '
                "opens a field without closing it is the usual cause."
            )
        else:
            message = _("Line %(line)s cannot be read as CSV (%(error)s).")
        raise SourceError(
            message % {"line": start, "limit": csv.field_size_limit(), "error": exc}
        ) from exc


# --- OCD division identifiers -----------------------------------------------------------------


def ocd_rows(path_or_url: str) -> list[dict]:
    """Rows of the OCD identifiers CSV: the upstream country-ca.csv, one of the filtered files,
    or a directory holding the filtered files."""
    if not is_url(path_or_url) and Path(path_or_url).is_dir():
        directory = Path(path_or_url)
        paths = [directory / name for name in OCD_DIRECTORY_FILES if (directory / name).exists()]
        if not paths:
            raise SourceError(f"{path_or_url} holds none of {', '.join(OCD_DIRECTORY_FILES)}")
        rows: list[dict] = []
        for path in paths:
            rows.extend(row for _, row in csv_rows(decode(path.read_bytes()))[1])
        return rows
    header, rows = csv_rows(decode(read_bytes(path_or_url)))
    if "id" not in header:
        raise SourceError("not an OCD identifiers CSV: there is no 'id' column")
    return [row for _, row in rows]


# --- Representatives --------------------------------------------------------------------------


@dataclass
class RawRepresentative:
    """One person as read from a file, before cleaning and matching."""

    line: int
    name: str = ""
    first_name: str = ""
    last_name: str = ""
    role_text: str = ""
    district_name: str = ""
    district_id: str = ""
    email: str = ""
    phone: str = ""
    contact_url: str = ""
    photo_url: str = ""
    source_url: str = ""
    locality: str = ""
    province: str = ""
    set_slug: str = ""
    offices: list = field(default_factory=list)


# Open North's "Represent CSV Schema", English and French headers, compared without accents,
# case or punctuation. "Nom" alone is the last name (the French template's "Last name").
_CSV_HEADERS = {
    "district_name": ("district name", "nom du district", "district", "circonscription"),
    "district_id": ("district id", "identifiant du district", "id du district", "no du district"),
    "role_text": ("primary role", "role principal", "role", "poste", "fonction", "titre"),
    "name": ("name", "full name", "nom complet"),
    "first_name": ("first name", "prenom"),
    "last_name": ("last name", "nom", "nom de famille"),
    "gender": ("gender", "genre", "sexe"),
    "party": ("party name", "nom du parti", "parti"),
    "email": ("email", "e mail", "courriel", "adresse courriel", "adresse electronique"),
    "photo_url": ("photo url", "url photo", "url de la photo", "photo"),
    "source_url": ("source url", "url source", "url de la source", "source"),
    "website": ("website", "site web", "site internet", "url"),
    "contact_url": ("contact form", "contact url", "formulaire de contact"),
    "address1": ("address line 1", "adresse ligne 1", "adresse 1", "adresse"),
    "address2": ("address line 2", "adresse ligne 2", "adresse 2"),
    "locality": ("locality", "localite", "ville", "municipalite", "city"),
    "province": ("province",),
    "postal_code": ("postal code", "code postal"),
    "phone": ("phone", "telephone", "tel"),
    "fax": ("fax", "telecopieur"),
    "cell": ("cell", "cellulaire", "mobile"),
    "facebook": ("facebook",),
    "twitter": ("twitter", "x"),
}
_HEADER_LOOKUP = {alias: key for key, aliases in _CSV_HEADERS.items() for alias in aliases}


def _header_key(header: str) -> str | None:
    folded = normalise_district(fix_text(header)).replace("'", " ").replace(".", " ")
    return _HEADER_LOOKUP.get(" ".join(folded.split()))


def representatives_from_csv(data: bytes) -> tuple[list[RawRepresentative], list[list]]:
    """Parse an Open North CSV (English or French headers). Returns records and notes."""
    records, warnings = representatives_csv_records(decode(data))
    return list(records), warnings


def representatives_csv_records(text: str) -> tuple[Iterator[RawRepresentative], list[list]]:
    """Read an Open North CSV one record at a time. Returns the records and notes, each
    [line, code, values] as councils.roster_plan keeps them.

    Raises SourceError at once when the header has no name column, and while the records are
    read when a line is not CSV.
    """
    header, rows = csv_reader(text)
    mapping = {column: _header_key(column) for column in header}
    unknown = [column for column, key in mapping.items() if key is None and column]
    known = set(mapping.values())
    if not ({"last_name", "name"} & known):
        raise SourceError(
            _(
                "This is not an Open North representatives CSV: it has no 'Last name' / 'Nom' "
                "or 'Name' column (its columns: %(columns)s)."
            )
            % {"columns": ", ".join(header)[:500]}
        )
    warnings = [[0, "ignored_column", {"column": column}] for column in unknown]
    return (_csv_record(line, row, mapping) for line, row in rows), warnings


def _csv_record(line: int, row: dict, mapping: dict) -> RawRepresentative:
    values = {
        mapping[column]: (value or "") for column, value in row.items() if mapping.get(column)
    }
    address = "\n".join(
        part
        for part in (
            values.get("address1", ""),
            values.get("address2", ""),
            " ".join(
                p
                for p in (
                    values.get("locality", ""),
                    values.get("province", ""),
                    values.get("postal_code", ""),
                )
                if p
            ),
        )
        if part.strip()
    )
    office = {
        key: value
        for key, value in (
            ("type", "office"),
            ("postal", address),
            ("tel", values.get("phone", "")),
            ("fax", values.get("fax", "")),
        )
        if value.strip()
    }
    return RawRepresentative(
        line=line,
        name=values.get("name", ""),
        first_name=values.get("first_name", ""),
        last_name=values.get("last_name", ""),
        role_text=values.get("role_text", ""),
        district_name=values.get("district_name", ""),
        district_id=values.get("district_id", ""),
        email=values.get("email", ""),
        phone=values.get("phone", "") or values.get("cell", ""),
        contact_url=values.get("contact_url", ""),
        photo_url=values.get("photo_url", ""),
        source_url=values.get("source_url", "") or values.get("website", ""),
        locality=values.get("locality", ""),
        province=values.get("province", ""),
        offices=[office] if len(office) > 1 else [],
    )


def representatives_from_json(payload, *, first_line: int = 1) -> list[RawRepresentative]:
    """Represent JSON: a list of people, or a page {"objects": [...], "meta": {...}}."""
    objects = payload.get("objects", []) if isinstance(payload, dict) else payload
    if not isinstance(objects, list):
        raise SourceError("not Represent JSON: expected a list or an object with 'objects'")
    records = []
    for index, item in enumerate(objects):
        if not isinstance(item, dict):
            continue
        # Any JSON shape may arrive: anything not of the expected type counts as missing.
        related = item.get("related")
        related = related if isinstance(related, dict) else {}
        set_url = _json_text(related.get("representative_set_url"))
        offices = item.get("offices")
        offices = [o for o in offices if isinstance(o, dict)] if isinstance(offices, list) else []
        phone = next((_json_text(o.get("tel")) for o in offices if _json_text(o.get("tel"))), "")
        records.append(
            RawRepresentative(
                line=first_line + index,
                name=_json_text(item.get("name")),
                first_name=_json_text(item.get("first_name")),
                last_name=_json_text(item.get("last_name")),
                role_text=_json_text(item.get("elected_office")),
                district_name=_json_text(item.get("district_name")),
                district_id=_json_text(item.get("district_id")),
                email=_json_text(item.get("email")),
                phone=phone,
                contact_url=_json_text(item.get("url")) or _json_text(item.get("personal_url")),
                photo_url=_json_text(item.get("photo_url")),
                source_url=_json_text(item.get("source_url")),
                set_slug=set_url.rstrip("/").rsplit("/", 1)[-1] if set_url else "",
                offices=offices,
            )
        )
    return records


def next_page_url(payload) -> str:
    """Represent's meta.next of a page, or "" (any other shape has no next page)."""
    meta = payload.get("meta") if isinstance(payload, dict) else None
    value = meta.get("next") if isinstance(meta, dict) else None
    return value if isinstance(value, str) else ""


def _json_text(value) -> str:
    """A JSON value as text: strings as they are, numbers as digits, anything else empty."""
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return ""


def load_json(data: bytes):
    return _parse_json(decode(data))


def _parse_json(text: str):
    try:
        return json.loads(text)
    except ValueError as exc:
        raise SourceError(f"not valid JSON: {exc}") from exc


def looks_like_json(data: bytes) -> bool:
    return decode(data[:200]).lstrip()[:1] in ("[", "{")


# --- Uploaded files ---------------------------------------------------------------------------

# Signatures of files that are not text, in the order they are tested.
_ARCHIVE_SIGNATURES = (b"\x1f\x8b", b"7z\xbc\xaf\x27\x1c", b"Rar!\x1a\x07", b"BZh")
_ZIP_SIGNATURES = (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")
_OLE_SIGNATURE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # Excel 97-2003 (.xls)
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")


@dataclass
class CheckedUpload:
    """An uploaded representatives file that can be imported: its bytes, its text and how many
    records it holds (rows of a CSV, people of a JSON file)."""

    name: str
    data: bytes
    text: str
    records: int


def upload_check(*, name: str, data: bytes) -> CheckedUpload:
    """Read an uploaded representatives file through once, before anything is imported.

    Raises SourceError with a message for the person who uploaded it when the file is an
    archive or a spreadsheet, is binary, is neither UTF-8 nor Windows-1252, is not CSV or JSON,
    or lacks the name column.
    """
    _refuse_binary(data)
    text = _decode_strictly(data)
    records, _notes, _is_json = representatives_from_text(text)
    return CheckedUpload(name=name, data=data, text=text, records=sum(1 for _record in records))


def representatives_from_text(text: str) -> tuple[Iterator[RawRepresentative], list[list], bool]:
    """The records of an uploaded file's text, a CSV's read one row at a time.

    Returns (records, notes, is_json); raises SourceError as representatives_csv_records does,
    or when the JSON is not Represent's.
    """
    if text[:200].lstrip()[:1] not in ("[", "{"):
        records, warnings = representatives_csv_records(text)
        return records, warnings, False
    payload = _parse_json(text)
    notes = []
    if next_url := next_page_url(payload):
        notes.append([0, "more_pages", {"url": next_url}])
    return iter(representatives_from_json(payload)), notes, True


def _refuse_binary(data: bytes) -> None:
    if data.startswith(_ZIP_SIGNATURES):
        if _is_workbook(data):
            raise SourceError(_spreadsheet_message())
        raise SourceError(
            _("This is a zip archive, not a CSV file. Extract it and upload the CSV file inside.")
        )
    if data.startswith(_OLE_SIGNATURE):
        raise SourceError(_spreadsheet_message())
    if data.startswith(_ARCHIVE_SIGNATURES):
        raise SourceError(
            _(
                "This is a compressed archive, not a CSV file. Extract it and upload the CSV "
                "file inside."
            )
        )
    if data.startswith(_UTF16_BOMS):
        raise SourceError(
            _(
                'This file is saved as UTF-16 ("Unicode text"). Save it as "CSV UTF-8" '
                "and upload it again."
            )
        )
    nul = data.find(b"\x00")
    if nul != -1:
        raise SourceError(
            _(
                "Line %(line)s holds a NUL byte, which a CSV file never has: this is a binary "
                'file or a damaged export. Save it as "CSV UTF-8" and upload it again.'
            )
            % {"line": data.count(b"\n", 0, nul) + 1}
        )


def _is_workbook(data: bytes) -> bool:
    """An .xlsx or .ods file: a zip holding a workbook (its names are read, nothing unpacked)."""
    try:
        names = zipfile.ZipFile(io.BytesIO(data)).namelist()
    except (zipfile.BadZipFile, ValueError, EOFError):
        return False
    return any(n.startswith("xl/") or n in ("content.xml", "mimetype") for n in names)


def _spreadsheet_message() -> str:
    return _(
        "This is a spreadsheet workbook, not a CSV file. In your spreadsheet, save it as "
        '"CSV UTF-8" and upload that file.'
    )


def _decode_strictly(data: bytes) -> str:
    """decode(), but refusing bytes that are neither UTF-8 nor Windows-1252 instead of
    replacing them: such a file is binary, or in an encoding the importer would garble."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        position = exc.start
    try:
        return data.decode("cp1252")
    except UnicodeDecodeError:
        pass
    raise SourceError(
        _(
            "Line %(line)s is neither UTF-8 nor Windows-1252 text. Save the file as "
            '"CSV UTF-8" and upload it again.'
        )
        % {"line": data.count(b"\n", 0, position) + 1}
    )
