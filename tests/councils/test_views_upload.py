"""The admin's representatives upload: its limits, files it cannot read, large files as a job."""

import io
import re
import zipfile

import pytest
from django.contrib.auth.models import Group
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils.html import escape

from councils.admin import RepresentativeUploadForm
from councils.models import DirectoryImport, Representative
from letters.groups import ORGANIZERS, groups_ensure
from tests.factories import DirectoryImportFactory, MunicipalityFactory, UserFactory

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
    assert not DirectoryImport.objects.exists()
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
    assert not DirectoryImport.objects.exists()


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


def apply(client, job) -> str:
    """Press Apply on the import's review page; the page it lands on."""
    url = reverse("admin:councils_representative_upload_apply", args=[job.pk])
    response = client.post(url, follow=True)
    assert response.status_code == 200
    return response.content.decode()


def test_it_still_imports_a_windows_1252_file(staff_client, town):
    data = (FIXTURES / "representatives_en_cp1252.csv").read_bytes()
    response = upload(staff_client, "conseil.csv", data, town)
    job = DirectoryImport.objects.get()
    assert response.status_code == 302
    assert job.created > 0
    assert "Hélène Côté" in staff_client.get(response["Location"]).content.decode()
    apply(staff_client, job)
    assert Representative.objects.filter(name="Hélène Côté").exists()


# --- Large files become a job --------------------------------------------------------------------


def test_it_reads_a_large_file_as_a_job_then_applies_it_as_a_task(
    staff_client, staff_user, town, settings, django_capture_on_commit_callbacks
):
    settings.DIRECTORY_UPLOAD_TASK_ROWS = 10
    with django_capture_on_commit_callbacks(execute=True):
        response = upload(staff_client, "council.csv", representatives_csv(25), town)

    job = DirectoryImport.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse(
        "admin:councils_representative_upload_job", args=[job.pk]
    )
    assert (job.status, job.rows_total, job.rows_done) == (DirectoryImport.Status.REVIEW, 25, 25)
    assert (job.created, job.skipped_count, job.file_name) == (25, 0, "council.csv")
    assert (job.municipality, job.uploaded_by) == (town, staff_user)
    assert job.text == ""
    assert not Representative.objects.exists()  # nothing changes before Apply

    page = staff_client.get(response["Location"]).content.decode()
    assert "Waiting for review" in page
    assert "25 new, 0 changed, 0 retired, 0 unchanged" in page
    assert "Person Number25" in page
    assert 'http-equiv="refresh"' not in page

    with django_capture_on_commit_callbacks(execute=True):
        page = apply(staff_client, job)  # 25 people: more than the request applies itself

    job.refresh_from_db()
    assert (job.status, job.decided_by) == (DirectoryImport.Status.DONE, staff_user)
    assert Representative.objects.filter(municipality=town, active=True).count() == 25
    assert "What changed" in staff_client.get(response["Location"]).content.decode()


def test_a_small_file_is_read_and_applied_during_the_request(staff_client, town, settings):
    settings.DIRECTORY_UPLOAD_TASK_ROWS = 10
    response = upload(staff_client, "council.csv", representatives_csv(10), town)
    job = DirectoryImport.objects.get()
    assert response.status_code == 302
    assert (job.status, job.created) == (DirectoryImport.Status.REVIEW, 10)

    page = apply(staff_client, job)

    assert "The changes were applied." in page
    job.refresh_from_db()
    assert job.status == DirectoryImport.Status.DONE
    assert Representative.objects.filter(municipality=town).count() == 10


def test_the_progress_page_refreshes_itself_until_the_job_has_finished(staff_client):
    queued = DirectoryImportFactory()
    running = DirectoryImportFactory(
        status=DirectoryImport.Status.RUNNING, rows_total=4000, rows_done=1500
    )
    done = DirectoryImportFactory(status=DirectoryImport.Status.DONE, rows_done=2, created=2)
    applying = DirectoryImportFactory(status=DirectoryImport.Status.APPLYING)

    def page(job):
        url = reverse("admin:councils_representative_upload_job", args=[job.pk])
        response = staff_client.get(url)
        assert response.status_code == 200
        return response.content.decode()

    assert '<meta http-equiv="refresh" content="2">' in page(queued)
    assert "waiting for a worker" in page(queued)
    running_page = page(running)
    assert '<meta http-equiv="refresh" content="2">' in running_page
    assert '<progress max="4000" value="1500">37%</progress>' in running_page
    assert "1500 of 4000 rows read." in running_page
    # The site's CSP allows no inline script: the page refreshes with a meta tag alone.
    assert re.findall(r"<script(?![^>]*\bsrc=)", running_page) == []
    assert 'http-equiv="refresh"' not in page(done)
    assert '<meta http-equiv="refresh" content="2">' in page(applying)


def test_the_progress_page_shows_why_a_job_failed(staff_client):
    job = DirectoryImportFactory(
        status=DirectoryImport.Status.FAILED,
        message="Line 7: a field is longer than 131072 characters.",
        rows_total=4000,
        rows_done=500,
    )
    response = staff_client.get(reverse("admin:councils_representative_upload_job", args=[job.pk]))
    page = response.content.decode()
    assert "Line 7: a field is longer than 131072 characters." in page
    assert "The import stopped after 500 of 4000 rows. Nothing was changed" in page
    assert 'http-equiv="refresh"' not in page


def test_the_progress_page_is_for_staff_who_may_import(client, user):
    job = DirectoryImportFactory()
    url = reverse("admin:councils_representative_upload_job", args=[job.pk])
    assert client.get(url)["Location"].startswith(reverse("admin:login"))
    user.is_staff = True
    user.save()
    client.force_login(user)
    assert client.get(url).status_code == 403


def test_the_progress_page_answers_get_only(staff_client):
    job = DirectoryImportFactory()
    url = reverse("admin:councils_representative_upload_job", args=[job.pk])
    assert staff_client.post(url).status_code == 405


def test_the_progress_page_of_an_unknown_job_is_404(staff_client):
    url = reverse("admin:councils_representative_upload_job", args=[12345])
    assert staff_client.get(url).status_code == 404


# --- The job list ---------------------------------------------------------------------------------


def test_the_job_list_shows_in_the_admin(staff_client):
    job = DirectoryImportFactory(
        status=DirectoryImport.Status.DONE, file_name="ontario.csv", rows_done=2
    )
    response = staff_client.get(reverse("admin:councils_directoryimport_changelist"))
    page = response.content.decode()
    assert response.status_code == 200
    assert "ontario.csv" in page
    progress = reverse("admin:councils_representative_upload_job", args=[job.pk])
    assert f'<a href="{progress}">2 of 2 rows</a>' in page
    change = staff_client.get(reverse("admin:councils_directoryimport_change", args=[job.pk]))
    assert change.status_code == 200
    assert "Mayor,Marie" not in change.content.decode()
    assert staff_client.get(reverse("admin:councils_directoryimport_add")).status_code == 403


def test_a_job_still_running_cannot_be_deleted(staff_client):
    running = DirectoryImportFactory(status=DirectoryImport.Status.RUNNING)
    failed = DirectoryImportFactory(status=DirectoryImport.Status.FAILED)
    url = reverse("admin:councils_directoryimport_changelist")

    def delete(*jobs):
        action = {"action": "delete_selected", "post": "yes"}
        return staff_client.post(url, {**action, "_selected_action": [j.pk for j in jobs]})

    assert delete(running, failed).status_code == 403
    assert DirectoryImport.objects.count() == 2
    assert delete(failed).status_code == 302
    assert list(DirectoryImport.objects.values_list("pk", flat=True)) == [running.pk]
    delete_url = reverse("admin:councils_directoryimport_delete", args=[running.pk])
    assert staff_client.get(delete_url).status_code == 403


def test_organizers_follow_their_imports(client):
    groups_ensure()
    organizer = UserFactory(is_staff=True)
    organizer.groups.add(Group.objects.get(name=ORGANIZERS))
    client.force_login(organizer)
    job = DirectoryImportFactory(uploaded_by=organizer)
    progress = client.get(reverse("admin:councils_representative_upload_job", args=[job.pk]))
    assert progress.status_code == 200
    assert reverse("admin:councils_directoryimport_changelist") in progress.content.decode()
    listing = client.get(reverse("admin:councils_directoryimport_changelist"))
    assert listing.status_code == 200
