"""Directory import jobs: the task, the service it calls, and how a job is queued."""

import json

import pytest
from celery.exceptions import SoftTimeLimitExceeded
from kombu.exceptions import OperationalError

from councils import import_representatives
from councils.models import DirectoryImport, Representative
from councils.roster_plan import RosterPlan
from councils.services import directory_import_start
from councils.sources import upload_check
from councils.tasks import directory_import_apply as directory_import_apply_task
from councils.tasks import directory_import_run as directory_import_run_task
from tests.factories import DirectoryImportFactory, MunicipalityFactory, RepresentativeFactory

pytestmark = pytest.mark.django_db

HEADER = "Primary role,First name,Last name\n"


def people_csv(*names: str) -> str:
    return HEADER + "".join(f"Councillor,{name.split()[0]},{name.split()[1]}\n" for name in names)


def imported(town, name: str) -> Representative:
    return RepresentativeFactory(municipality=town, name=name, source=Representative.Source.CSV)


@pytest.fixture
def small_batches(monkeypatch):
    monkeypatch.setattr(import_representatives, "DIRECTORY_IMPORT_BATCH_ROWS", 2)


@pytest.fixture
def town():
    return MunicipalityFactory(name="Gatineau", province="QC")


def apply(job) -> DirectoryImport:
    """Approve the job's plan and run the task that applies it."""
    job.refresh_from_db()
    job.mark_applying(by=None)
    directory_import_apply_task.delay(job.pk)
    job.refresh_from_db()
    return job


def test_it_reads_a_job_in_batches_into_a_plan_and_changes_nothing(town, small_batches):
    names = ["Ann Able", "Bob Baker", "Cat Cole", "Dan Dunn", "Eve Ewing"]
    job = DirectoryImportFactory(municipality=town, text=people_csv(*names), rows_total=5)

    directory_import_run_task.delay(job.pk)

    job.refresh_from_db()
    assert job.status == DirectoryImport.Status.REVIEW
    assert (job.rows_done, job.created, job.updated, job.skipped_count) == (5, 5, 0, 0)
    assert job.text == ""
    assert not Representative.objects.exists()
    plan = RosterPlan.from_json(job.plan)
    assert [entry["values"]["name"] for entry in plan.councils[0].new] == names

    job = apply(job)

    assert job.status == DirectoryImport.Status.DONE
    assert job.finished_at is not None
    assert sorted(Representative.objects.values_list("name", flat=True)) == names
    town.refresh_from_db()
    assert town.roster_source == job.file_name
    assert town.roster_checked_at == Representative.objects.first().last_verified


def test_batches_do_not_retire_people_of_earlier_batches(town, small_batches):
    listed = [imported(town, name) for name in ("Ann Able", "Eve Ewing")]
    gone = imported(town, "Old Timer")
    text = people_csv("Ann Able", "Bob Baker", "Cat Cole", "Dan Dunn", "Eve Ewing")
    job = DirectoryImportFactory(municipality=town, text=text, rows_total=5)

    directory_import_run_task.delay(job.pk)

    job.refresh_from_db()
    assert (job.created, job.updated + job.unchanged, job.deactivated) == (3, 2, 1)
    apply(job)
    assert all(Representative.objects.get(pk=rep.pk).active for rep in listed)
    assert not Representative.objects.get(pk=gone.pk).active


def test_a_name_listed_twice_in_different_batches_is_skipped(town, small_batches):
    text = people_csv("Ann Able", "Bob Baker", "Ann Able")
    job = DirectoryImportFactory(municipality=town, text=text, rows_total=3)

    directory_import_run_task.delay(job.pk)

    job.refresh_from_db()
    assert (job.created, job.skipped_count) == (2, 1)
    assert job.plan["skipped"] == [[4, "listed_twice", {"name": "Ann Able"}]]


def test_a_failing_job_records_its_error(town):
    job = DirectoryImportFactory(municipality=town, text="foo,bar\n1,2\n", rows_total=1)

    directory_import_run_task.delay(job.pk)

    job.refresh_from_db()
    assert job.status == DirectoryImport.Status.FAILED
    assert "no 'Last name' / 'Nom' or 'Name' column" in job.message
    assert job.finished_at is not None
    assert job.text == ""
    assert not Representative.objects.exists()


def test_a_job_stopped_by_the_time_limit_changes_nothing_and_says_why(
    town, small_batches, monkeypatch
):
    gone = imported(town, "Old Timer")
    add = import_representatives.RosterPlanner.add
    calls = []

    def add_until_the_limit(self, records):
        calls.append(records)
        if len(calls) == 2:
            raise SoftTimeLimitExceeded()
        add(self, records)

    monkeypatch.setattr(import_representatives.RosterPlanner, "add", add_until_the_limit)
    text = people_csv("Ann Able", "Bob Baker", "Cat Cole", "Dan Dunn")
    job = DirectoryImportFactory(municipality=town, text=text, rows_total=4)

    directory_import_run_task.delay(job.pk)

    job.refresh_from_db()
    assert job.status == DirectoryImport.Status.FAILED
    assert job.message == "The import took longer than the time a task may run, and was stopped."
    assert (job.rows_done, job.created, job.deactivated) == (2, 2, 0)
    assert list(Representative.objects.all()) == [gone]
    assert Representative.objects.get(pk=gone.pk).active


def test_an_unexpected_error_is_recorded_on_the_job_and_logged(town, monkeypatch, caplog):
    def broken(self, records):
        raise RuntimeError("disk full")

    monkeypatch.setattr(import_representatives.RosterPlanner, "add", broken)
    job = DirectoryImportFactory(municipality=town)

    directory_import_run_task.delay(job.pk)

    job.refresh_from_db()
    assert job.status == DirectoryImport.Status.FAILED
    assert job.message == "The import stopped on an unexpected error: disk full"
    assert f"Directory import {job.pk} failed" in caplog.text


def test_a_job_read_already_is_not_read_again(town):
    job = DirectoryImportFactory(municipality=town, status=DirectoryImport.Status.REVIEW)
    directory_import_run_task.delay(job.pk)
    job.refresh_from_db()
    assert (job.status, job.rows_done) == (DirectoryImport.Status.REVIEW, 0)


def test_a_job_whose_run_was_lost_starts_again_from_the_first_row(town):
    job = DirectoryImportFactory(
        municipality=town, status=DirectoryImport.Status.RUNNING, rows_done=1, created=1
    )
    directory_import_run_task.delay(job.pk)
    job.refresh_from_db()
    assert (job.status, job.rows_done, job.created) == (DirectoryImport.Status.REVIEW, 2, 2)


def test_a_represent_json_file_runs_as_a_job_too(town):
    people = [{"name": "Marie Tremblay", "elected_office": "Mayor"}, {"name": "Julie Bouchard"}]
    job = DirectoryImportFactory(municipality=town, text=json.dumps(people), rows_total=2)
    directory_import_run_task.delay(job.pk)
    job.refresh_from_db()
    assert (job.status, job.created) == (DirectoryImport.Status.REVIEW, 2)
    assert apply(job).status == DirectoryImport.Status.DONE
    assert set(Representative.objects.values_list("source", flat=True)) == {"represent"}


def test_a_plan_is_not_applied_to_a_roster_that_changed_since(town):
    job = DirectoryImportFactory(municipality=town, text=people_csv("Ann Able"), rows_total=1)
    directory_import_run_task.delay(job.pk)
    added_meanwhile = imported(town, "Zoe Zed")  # e.g. another import applied in between

    job = apply(job)

    assert job.status == DirectoryImport.Status.OUTDATED
    assert job.message == str(town)
    assert list(Representative.objects.all()) == [added_meanwhile]
    assert Representative.objects.get(pk=added_meanwhile.pk).active


def test_a_job_is_queued_only_once_it_is_committed(
    town, staff_user, django_capture_on_commit_callbacks
):
    upload = upload_check(name="council.csv", data=people_csv("Ann Able", "Bob Baker").encode())
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        job = directory_import_start(upload=upload, municipality=town, uploaded_by=staff_user)
        assert job.status == DirectoryImport.Status.QUEUED
        assert (job.rows_total, job.text) == (2, upload.text)
    assert len(callbacks) == 1

    callbacks[0]()

    job.refresh_from_db()
    assert job.status == DirectoryImport.Status.REVIEW
    assert job.created == 2
    assert not Representative.objects.exists()


def test_a_job_that_cannot_be_queued_is_marked_failed(
    town, staff_user, monkeypatch, django_capture_on_commit_callbacks
):
    def broker_down(*args, **kwargs):
        raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(directory_import_run_task, "delay", broker_down)
    upload = upload_check(name="council.csv", data=people_csv("Ann Able").encode())
    with django_capture_on_commit_callbacks(execute=True):
        job = directory_import_start(upload=upload, municipality=town, uploaded_by=staff_user)

    job.refresh_from_db()
    assert job.status == DirectoryImport.Status.FAILED
    assert job.message.startswith("The import could not be queued")
    assert job.text == ""
