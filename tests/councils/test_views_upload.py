"""The admin's representatives upload: its limits and the files it cannot read."""

import io
import zipfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils.html import escape

from councils.admin import RepresentativeUploadForm
from councils.models import Representative
from tests.factories import MunicipalityFactory

from .conftest import FIXTURES

pytestmark = pytest.mark.django_db

UPLOAD_URL = "admin:councils_representative_upload"
HEADER = "District name,Primary role,First name,Last name,Email\n"


def representatives_csv(rows: int) -> bytes:
    lines = (
        f"Ward {n},Councillor,Person,Number{n},person{n}@example.org\n" for n in range(1, rows + 1)
    )
    return (HEADER + "".join(lines)).encode()


def zipped(files: dict[str, bytes], method=zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", method) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


@pytest.fixture
def town():
    return MunicipalityFactory(name="Gatineau", province="QC")


def upload(client, name: str, data: bytes, town=None):
    payload = {"file": SimpleUploadedFile(name, data, content_type="text/csv")}
    if town is not None:
        payload["municipality"] = town.pk
    return client.post(reverse(UPLOAD_URL), payload)


def file_error(response) -> str:
    assert response.status_code == 200
    assert response.context["summary"] is None
    errors = response.context["form"].errors["file"]
    assert len(errors) == 1
    assert escape(errors[0]) in response.content.decode()
    return errors[0]


# --- Limits -------------------------------------------------------------------------------------


def test_it_refuses_an_oversized_file_with_a_message(staff_client, town, settings):
    settings.DIRECTORY_UPLOAD_MAX_BYTES = 1000
    data = representatives_csv(40)
    assert len(data) > 1000

    error = file_error(upload(staff_client, "big.csv", data, town))

    assert "the limit is 1000\xa0bytes" in error
    assert not Representative.objects.exists()


class UnreadableUpload(SimpleUploadedFile):
    def read(self, *args):
        raise AssertionError("an oversized upload was read")


def test_it_refuses_an_oversized_file_without_reading_it(settings):
    settings.DIRECTORY_UPLOAD_MAX_BYTES = 1000
    big = UnreadableUpload("big.csv", representatives_csv(40), content_type="text/csv")
    form = RepresentativeUploadForm(data={}, files={"file": big})
    assert not form.is_valid()
    assert [e.code for e in form.errors.as_data()["file"]] == ["too_large"]


def test_the_form_shows_the_size_limit(staff_client, settings):
    settings.DIRECTORY_UPLOAD_MAX_BYTES = 10 * 1024 * 1024
    response = staff_client.get(reverse(UPLOAD_URL))
    assert "At most 10.0\xa0MB." in response.content.decode()


def test_it_refuses_a_file_with_too_many_rows(staff_client, town, settings):
    settings.DIRECTORY_UPLOAD_MAX_ROWS = 10
    error = file_error(upload(staff_client, "many.csv", representatives_csv(11), town))
    assert error.startswith("This file has 11 rows; at most 10 can be imported at once.")
    assert not Representative.objects.exists()


# --- Files that are not a representatives CSV ---------------------------------------------------


@pytest.mark.parametrize("method", [zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED])
def test_it_refuses_a_zip_file_with_a_message(staff_client, town, method):
    # Stored, the CSV inside used to be imported with the zip's headers in its first and last
    # rows; compressed, the error listed its binary "columns".
    data = zipped({"representatives.csv": representatives_csv(3000)}, method)

    error = file_error(upload(staff_client, "representatives.zip", data, town))

    assert error == (
        "This is a zip archive, not a CSV file. Extract it and upload the CSV file inside."
    )
    assert not Representative.objects.exists()


@pytest.mark.parametrize(
    "data",
    [
        zipped({"[Content_Types].xml": b"<Types/>", "xl/workbook.xml": b"<workbook/>"}),
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(500),
    ],
    ids=["xlsx", "xls"],
)
def test_it_refuses_a_spreadsheet_workbook_with_a_message(staff_client, town, data):
    error = file_error(upload(staff_client, "representatives.xlsx", data, town))
    assert error.startswith("This is a spreadsheet workbook, not a CSV file.")
    assert 'save it as "CSV UTF-8"' in error


def test_it_refuses_a_csv_with_a_nul_byte_with_a_message(staff_client, town):
    data = representatives_csv(3).replace(b"Number2", b"Num\x00ber2")

    error = file_error(upload(staff_client, "nul.csv", data, town))

    assert error.startswith("Line 3 holds a NUL byte, which a CSV file never has")
    assert not Representative.objects.exists()


def test_it_refuses_a_csv_with_an_overlong_field_with_a_message(staff_client, town):
    # An opening quote never closed: the field runs past csv's field limit (this was a 500).
    data = representatives_csv(3) + b'Ward 9,Councillor,"Open,' + b"x" * 200_000 + b"\n"

    error = file_error(upload(staff_client, "long.csv", data, town))

    assert error.startswith("Line 5: a field is longer than 131072 characters.")
    assert 'A quote (") that opens a field without closing it' in error
    assert not Representative.objects.exists()


def test_it_refuses_a_file_that_is_neither_utf8_nor_windows_1252(staff_client, town):
    data = HEADER.encode() + "Ward 1,Councillor,Taro,東京、日本,t@example.org\n".encode("shift_jis")
    error = file_error(upload(staff_client, "sjis.csv", data, town))
    assert error.startswith("Line 2 is neither UTF-8 nor Windows-1252 text.")
    assert not Representative.objects.exists()


def test_it_refuses_a_utf16_file_with_a_message(staff_client, town):
    data = representatives_csv(3).decode().encode("utf-16")
    error = file_error(upload(staff_client, "unicode.txt", data, town))
    assert error.startswith('This file is saved as UTF-16 ("Unicode text").')


def test_it_still_imports_a_windows_1252_file(staff_client, town):
    data = (FIXTURES / "representatives_en_cp1252.csv").read_bytes()
    response = upload(staff_client, "conseil.csv", data, town)
    assert response.status_code == 200
    assert response.context["summary"].created > 0
    assert Representative.objects.filter(name="Hélène Côté").exists()
