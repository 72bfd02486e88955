"""The optional periodic sync from Represent: small changes applied and logged, large ones (or
a new mayor) waiting for an organizer; Represent's pace kept across processes."""

import os
import subprocess
import sys
from datetime import timedelta

import pytest
from django.conf import settings as django_settings
from django.core.cache import cache
from django.urls import reverse
from django.utils import timezone

from councils import sync_represent
from councils.import_representatives import roster_plan_apply
from councils.models import DirectoryImport, Municipality, Role
from councils.tasks import represent_sync_due as represent_sync_due_task
from tests.factories import MunicipalityFactory

from .conftest import FakeResponse

pytestmark = pytest.mark.django_db

SET = "springfield-city-council"
PATH = f"/representatives/{SET}/"


def person(name: str, role: str = "Councillor") -> dict:
    first, _last = name.split()
    return {
        "name": name,
        "elected_office": role,
        "district_name": "Springfield" if role == "Mayor" else "",
        "email": f"{first.lower()}@springfield.test",
    }


def page(*people) -> dict:
    return {"objects": list(people), "meta": {"next": None}}


@pytest.fixture
def springfield(fake_represent, settings):
    """Springfield, its roster as the sync left it last time (three days ago)."""
    settings.REPRESENT_SYNC_ENABLED = True
    settings.REPRESENT_SYNC_HOURS = 24
    settings.REPRESENT_SYNC_MAX_AUTO_CHANGES = 3
    town = MunicipalityFactory(name="Springfield", represent_set=SET)
    fake_represent.add(PATH, page(*current_roster()))
    plan, _town = sync_represent.represent_plan(set_slug=SET, municipality=town)
    roster_plan_apply(plan=plan)
    Municipality.objects.filter(pk=town.pk).update(
        roster_checked_at=timezone.now() - timedelta(days=3)
    )
    fake_represent.routes.clear()
    fake_represent.calls.clear()
    return town


def current_roster() -> list[dict]:
    return [person("Ann Mayor", "Mayor"), person("Bob Able")]


def sync(town):
    town.refresh_from_db()
    return sync_represent.represent_sync_municipality(municipality=town)


def test_a_small_change_is_applied_and_logged(springfield, fake_represent):
    fake_represent.add(PATH, page(*current_roster(), person("Cat Cole")))

    job = sync(springfield)

    assert (job.status, job.source, job.decided_by) == (
        DirectoryImport.Status.DONE,
        DirectoryImport.Source.REPRESENT,
        None,
    )
    assert (job.created, job.updated, job.deactivated) == (1, 0, 0)
    assert springfield.representatives.filter(name="Cat Cole", active=True).exists()
    springfield.refresh_from_db()
    assert springfield.roster_source == f"https://represent.test{PATH}"
    assert springfield.roster_checked_at > timezone.now() - timedelta(minutes=1)


def test_more_changes_than_the_setting_wait_for_approval(
    springfield, fake_represent, staff_client, staff_user
):
    newcomers = [person(n) for n in ("Cat Cole", "Dan Dunn", "Eve Ewing")]
    fake_represent.add(PATH, page(person("Ann Mayor", "Mayor"), *newcomers))  # Bob retired

    job = sync(springfield)

    assert job.status == DirectoryImport.Status.REVIEW
    assert job.review_reasons == [["many_changes", {"count": 4, "limit": 3}]]
    assert springfield.representatives.active().count() == 2
    springfield.refresh_from_db()
    assert springfield.roster_checked_at < timezone.now() - timedelta(days=2)
    url = reverse("admin:councils_representative_upload_job", args=[job.pk])
    page_html = staff_client.get(url).content.decode()
    assert "4 members would be added or retired (more than 3)" in page_html
    assert "Approve and apply" in page_html and "Reject" in page_html

    staff_client.post(reverse("admin:councils_representative_upload_apply", args=[job.pk]))

    job.refresh_from_db()
    assert (job.status, job.decided_by) == (DirectoryImport.Status.DONE, staff_user)
    names = set(springfield.representatives.active().values_list("name", flat=True))
    assert names == {"Ann Mayor", "Cat Cole", "Dan Dunn", "Eve Ewing"}


def test_a_rejected_change_changes_nothing(springfield, fake_represent, staff_client):
    fake_represent.add(PATH, page(person("Zed Mayor", "Mayor"), person("Bob Able")))
    job = sync(springfield)
    staff_client.post(reverse("admin:councils_representative_upload_cancel", args=[job.pk]))
    job.refresh_from_db()
    assert job.status == DirectoryImport.Status.CANCELLED
    assert springfield.representatives.get(role=Role.MAYOR, active=True).name == "Ann Mayor"


def test_any_change_of_mayor_waits_for_approval(springfield, fake_represent):
    fake_represent.add(PATH, page(person("Zed Mayor", "Mayor"), person("Bob Able")))

    job = sync(springfield)

    assert job.status == DirectoryImport.Status.REVIEW
    assert job.review_reasons == [["mayor_changes", {}]]
    assert springfield.representatives.get(role=Role.MAYOR, active=True).name == "Ann Mayor"


def test_a_new_email_for_the_mayor_waits_for_approval_too(springfield, fake_represent):
    mayor = person("Ann Mayor", "Mayor") | {"email": "ann.new@springfield.test"}
    fake_represent.add(PATH, page(mayor, person("Bob Able")))
    assert sync(springfield).review_reasons == [["mayor_changes", {}]]


def test_no_change_records_nothing_and_marks_the_roster_checked(springfield, fake_represent):
    fake_represent.add(PATH, page(*current_roster()))

    assert sync(springfield) is None

    assert not DirectoryImport.objects.exists()
    springfield.refresh_from_db()
    assert springfield.roster_checked_at > timezone.now() - timedelta(minutes=1)


def test_a_newer_change_replaces_one_still_waiting(springfield, fake_represent):
    fake_represent.add(PATH, page(person("Zed Mayor", "Mayor"), person("Bob Able")))
    first = sync(springfield)
    fake_represent.routes.clear()
    fake_represent.add(PATH, page(person("Yan Mayor", "Mayor"), person("Bob Able")))
    second = sync(springfield)

    first.refresh_from_db()
    assert first.status == DirectoryImport.Status.OUTDATED
    assert second.status == DirectoryImport.Status.REVIEW


def test_the_beat_task_syncs_only_linked_councils_that_are_due(springfield, fake_represent):
    now = timezone.now()
    recent = MunicipalityFactory(
        name="Recent", represent_set="recent-council", roster_checked_at=now - timedelta(hours=2)
    )
    waiting = MunicipalityFactory(name="Waiting", represent_set="waiting-council")
    DirectoryImport.objects.create(
        source=DirectoryImport.Source.REPRESENT,
        file_name="waiting-council",
        municipality=waiting,
        status=DirectoryImport.Status.REVIEW,
    )
    MunicipalityFactory(name="Unlinked")
    old = MunicipalityFactory(
        name="Old", represent_set="old-council", roster_checked_at=now - timedelta(days=3)
    )
    fake_represent.add(PATH, page(*current_roster()))
    fake_represent.add("/representatives/old-council/", page(person("Oli Old")))

    assert represent_sync_due_task.delay().get() == 2

    called = {url.split("/representatives/")[1].split("/")[0] for url in fake_represent.calls}
    assert called == {SET, "old-council"}
    recent.refresh_from_db()
    old.refresh_from_db()
    assert recent.roster_checked_at < now
    assert old.representatives.get().name == "Oli Old"  # 1 new member: applied


def test_the_sync_is_off_by_default(springfield, fake_represent, settings):
    settings.REPRESENT_SYNC_ENABLED = False
    assert represent_sync_due_task.delay().get() == 0
    assert fake_represent.calls == []


def test_beat_runs_the_sync_only_when_it_is_enabled():
    code = (
        "import django, os; os.environ['DJANGO_SETTINGS_MODULE']='config.settings'; "
        "from django.conf import settings; print(sorted(settings.CELERY_BEAT_SCHEDULE))"
    )

    def schedule(value: str) -> str:
        env = {**os.environ, "REPRESENT_SYNC_ENABLED": value}
        return subprocess.run(
            [sys.executable, "-c", code],
            env=env,
            capture_output=True,
            text=True,
            check=True,
            cwd=django_settings.BASE_DIR,
        ).stdout

    assert "represent-sync" in schedule("true")
    assert "represent-sync" not in schedule("false")


def test_one_council_failing_does_not_stop_the_others(springfield, fake_represent, caplog):
    MunicipalityFactory(name="Broken", represent_set="broken-council")
    fake_represent.add("/representatives/broken-council/", 500)
    fake_represent.add(PATH, page(*current_roster(), person("Cat Cole")))

    assert sync_represent.represent_sync_due(budget_seconds=60) == 1

    assert "Represent sync of Broken" in caplog.text
    assert springfield.representatives.filter(name="Cat Cole").exists()


def test_the_sync_stops_when_represent_asks_everyone_to_wait(springfield, fake_represent):
    MunicipalityFactory(name="First", represent_set="first-council")
    fake_represent.add(
        "/representatives/first-council/", FakeResponse(503, None, {"Retry-After": "3600"})
    )
    fake_represent.add(PATH, page(*current_roster(), person("Cat Cole")))

    assert sync_represent.represent_sync_due(budget_seconds=60) == 0

    assert fake_represent.calls == ["https://represent.test/representatives/first-council/"]


def test_two_syncs_never_run_at_once(springfield, fake_represent):
    cache.add(sync_represent.SYNC_LOCK_KEY, 1, timeout=60)
    assert sync_represent.represent_sync_due(budget_seconds=60) == 0
    assert fake_represent.calls == []
