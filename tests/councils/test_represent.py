import itertools
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from councils import represent
from councils.models import Municipality, Representative, Role
from tests.factories import MunicipalityFactory, RepresentativeFactory, WardFactory

from .conftest import FakeResponse

pytestmark = pytest.mark.django_db

GATINEAU = "ocd-division/country:ca/csd:2481017"
SET = "conseil-municipal-de-gatineau"


@pytest.fixture
def gatineau():
    town = MunicipalityFactory(
        ocd_id=GATINEAU, csd_code="2481017", name="Gatineau", name_fr="Gatineau", province="QC"
    )
    WardFactory(municipality=town, ocd_id=f"{GATINEAU}/district:2", name="Lucerne", number="2")
    WardFactory(municipality=town, ocd_id=f"{GATINEAU}/district:3", name="Deschênes", number="3")
    return town


def queue_pages(fake):
    fake.routes.clear()
    fake.add(
        f"/representatives/{SET}/",
        "represent_representatives_gatineau_page1.json",
        "represent_representatives_gatineau_page2.json",
    )


@pytest.fixture
def pages(fake_represent):
    queue_pages(fake_represent)
    return fake_represent


def test_sync_represent_reads_every_page_and_links_the_set(gatineau, pages, capsys):
    call_command("sync_represent", SET)
    assert "3 created" in capsys.readouterr().out
    assert pages.calls == [
        f"https://represent.test/representatives/{SET}/",
        f"https://represent.test/representatives/{SET}/?limit=2&offset=2",
    ]
    gatineau.refresh_from_db()
    assert gatineau.represent_set == SET
    mayor = Representative.objects.get(role=Role.MAYOR)
    assert (mayor.first_name, mayor.last_name, mayor.ward) == ("Marie", "Tremblay", None)
    julie = Representative.objects.get(name="Julie Bouchard")
    assert (julie.role, julie.ward.name, julie.phone) == (
        Role.COUNCILLOR,
        "Lucerne",
        "819-555-0102",
    )
    assert julie.source == Representative.Source.REPRESENT
    assert julie.offices[0]["postal"] == "25, rue Laurier\nGatineau QC J8X 3Y9"


def test_sync_represent_twice_changes_nothing_then_deactivates_the_departed(
    gatineau, pages, capsys
):
    call_command("sync_represent", SET)
    capsys.readouterr()
    queue_pages(pages)
    call_command("sync_represent", SET)
    assert "0 created, 0 updated, 3 unchanged, 0 deactivated" in capsys.readouterr().out
    gone = RepresentativeFactory(municipality=gatineau, source=Representative.Source.REPRESENT)
    queue_pages(pages)
    call_command("sync_represent", SET)
    gone.refresh_from_db()
    assert not gone.active


def test_sync_represent_needs_a_municipality_it_can_identify(pages):
    MunicipalityFactory(name="Gatineau", province="QC")
    MunicipalityFactory(name="Gatineau", province="ON")
    with pytest.raises(CommandError, match="--municipality"):
        call_command("sync_represent", SET)
    call_command("sync_represent", SET, "--municipality", Municipality.objects.first().ocd_id)
    assert Representative.objects.count() == 3


def test_sync_represent_reports_represent_being_down(gatineau, fake_represent):
    fake_represent.add(f"/representatives/{SET}/", 500)
    with pytest.raises(CommandError, match="HTTP 500"):
        call_command("sync_represent", SET)
    assert not Representative.objects.exists()


def test_it_backs_off_on_503_and_honours_retry_after(fake_represent, monkeypatch):
    waits = []
    monkeypatch.setattr("councils.represent.time.sleep", waits.append)
    calls = []
    answers = [
        FakeResponse(503, None, {"Retry-After": "7"}),
        FakeResponse(503, None),
        FakeResponse(200, {"objects": [], "meta": {"next": None}}),
    ]

    def fake_get(url, params=None, timeout=None, headers=None):
        calls.append((url, timeout, headers["User-Agent"]))
        return answers.pop(0)

    monkeypatch.setattr("councils.represent.requests.get", fake_get)
    assert represent.get_json("/representatives/x/") == {"objects": [], "meta": {"next": None}}
    assert waits == [7.0, 4.0]
    assert len(calls) == 3
    assert all(timeout == 5 for _, timeout, _ in calls)


def test_it_gives_up_after_repeated_503s(fake_represent):
    fake_represent.add("/representatives/x/", 503)
    with pytest.raises(represent.RepresentError, match="503"):
        represent.get_json("/representatives/x/")
    assert len(fake_represent.calls) == represent.MAX_RETRIES + 1


def test_requests_are_spaced_out_across_callers(fake_represent, settings, monkeypatch):
    """The throttle takes a slot in the shared cache; a second request waits for it."""
    settings.REPRESENT_MIN_INTERVAL = 1.5
    clock = {"now": 1000.0}
    monkeypatch.setattr("councils.represent.time.monotonic", lambda: clock["now"])
    waits = []

    def sleep(seconds):
        waits.append(seconds)
        clock["now"] += seconds
        if sum(waits) >= 2:  # the cache slot (2 s) has expired by now
            from django.core.cache import cache

            cache.delete(represent.THROTTLE_KEY)

    monkeypatch.setattr("councils.represent.time.sleep", sleep)
    monkeypatch.setattr(represent._local, "last_request", None, raising=False)
    fake_represent.add("/postcodes/K1P1J1/", "represent_postcode_K1P1J1.json")
    represent.get_json("/postcodes/K1P1J1/")
    assert waits == []
    represent.get_json("/postcodes/K1P1J1/")
    assert sum(waits) >= 1.5
    assert len(fake_represent.calls) == 2


def test_a_residents_lookup_does_not_wait_long_for_a_slot(fake_represent, settings, monkeypatch):
    from django.core.cache import cache

    settings.REPRESENT_MIN_INTERVAL = 1.5
    clock = {"now": 0.0}
    monkeypatch.setattr("councils.represent.time.monotonic", lambda: clock["now"])
    monkeypatch.setattr(
        "councils.represent.time.sleep", lambda s: clock.__setitem__("now", clock["now"] + s)
    )
    cache.add(represent.THROTTLE_KEY, 1, timeout=60)  # another process holds the slot
    with pytest.raises(represent.RepresentError, match="throttled"):
        represent.postcode("K1P 1J1", max_wait=3.0)
    assert fake_represent.calls == []


# --- Represent's pace, across processes ---------------------------------------------------------


def page(*people) -> dict:
    return {"objects": list(people), "meta": {"next": None}}


@pytest.fixture
def clock(monkeypatch, settings):
    """One fake clock for time.time, time.monotonic and time.sleep, and the cache's expiry too:
    so the shared cache is an in-process one here, since Redis expires keys by its own clock."""
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "pace"}
    }
    now = {"t": 1_000_000.0}

    def sleep(seconds):
        now["t"] += seconds

    monkeypatch.setattr("councils.represent.time.time", lambda: now["t"])
    monkeypatch.setattr("councils.represent.time.monotonic", lambda: now["t"])
    monkeypatch.setattr("councils.represent.time.sleep", sleep)
    return now


class Processes:
    """Stands in for several processes: each keeps its own per-process pace state."""

    FIELDS = ("last_request", "backoff_served")

    def __init__(self, count: int):
        self.states = [{} for _ in range(count)]

    def run(self, index: int, call):
        for name in self.FIELDS:
            if hasattr(represent._local, name):
                delattr(represent._local, name)
        for name, value in self.states[index].items():
            setattr(represent._local, name, value)
        try:
            return call()
        finally:
            self.states[index] = {
                name: getattr(represent._local, name)
                for name in self.FIELDS
                if hasattr(represent._local, name)
            }


def test_requests_stay_under_60_a_minute_across_processes(
    fake_represent, settings, clock, monkeypatch
):
    settings.REPRESENT_MIN_INTERVAL = 1.5
    times = []
    fake_represent.add("/representatives/x/", page())
    processes = Processes(3)
    original = fake_represent.__call__

    def timed(url, **kwargs):
        times.append(clock["t"])
        return original(url, **kwargs)

    monkeypatch.setattr("councils.represent.requests.get", timed)
    start = clock["t"]
    while clock["t"] - start < 120:
        for index in range(3):
            processes.run(index, lambda: represent.get_json("/representatives/x/"))

    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert min(gaps) >= 1.0
    per_minute = max(sum(1 for t in times if s <= t < s + 60) for s in times)
    assert per_minute <= 60
    assert len(times) >= 50  # it still moves: about one request every two seconds


def test_a_pause_asked_of_one_process_makes_the_others_wait(fake_represent, settings, clock):
    settings.REPRESENT_MIN_INTERVAL = 1.5
    fake_represent.add(
        "/representatives/x/",
        FakeResponse(503, None, {"Retry-After": "20"}),
        page(),
    )
    processes = Processes(2)
    start = clock["t"]
    processes.run(0, lambda: represent.get_json("/representatives/x/"))
    assert clock["t"] - start >= 20
    # Another process, meanwhile: a resident's lookup falls through at once...
    clock["t"] = start + 1
    with pytest.raises(represent.RepresentError, match="throttled"):
        processes.run(1, lambda: represent.postcode("K1P 1J1", max_wait=2.0))
    # ...and a bulk caller waits the pause out before asking.
    calls = len(fake_represent.calls)
    processes.run(1, lambda: represent.get_json("/representatives/x/"))
    assert clock["t"] >= start + 20
    assert len(fake_represent.calls) == calls + 1


def test_a_retry_after_date_is_honoured(fake_represent, monkeypatch):
    from email.utils import format_datetime

    waits = []
    monkeypatch.setattr("councils.represent.time.sleep", waits.append)
    when = format_datetime(timezone.now() + timedelta(seconds=30), usegmt=True)
    fake_represent.add(
        "/representatives/x/", FakeResponse(503, None, {"Retry-After": when}), page()
    )

    assert represent.get_json("/representatives/x/") == page()
    assert 28 <= waits[0] <= 31


def test_a_429_is_treated_as_a_request_to_slow_down(fake_represent, monkeypatch):
    waits = []
    monkeypatch.setattr("councils.represent.time.sleep", waits.append)
    fake_represent.add("/representatives/x/", FakeResponse(429, None, {"Retry-After": "5"}), page())
    assert represent.get_json("/representatives/x/") == page()
    assert waits == [5.0]


def test_a_long_retry_after_is_not_waited_out_in_a_worker(fake_represent, monkeypatch):
    waits = []
    monkeypatch.setattr("councils.represent.time.sleep", waits.append)
    fake_represent.add("/representatives/x/", FakeResponse(503, None, {"Retry-After": "3600"}))
    with pytest.raises(represent.RepresentUnavailable, match="3600"):
        represent.get_json("/representatives/x/")
    assert waits == []
    assert len(fake_represent.calls) == 1


def test_bulk_callers_stop_when_the_cache_cannot_share_the_pace(
    fake_represent, settings, monkeypatch
):
    settings.REPRESENT_MIN_INTERVAL = 1.5
    monkeypatch.setattr(represent.cache, "add", lambda *args, **kwargs: None)  # cache down
    monkeypatch.setattr(represent._local, "last_request", None, raising=False)
    fake_represent.add("/postcodes/K1P1J1/", "represent_postcode_K1P1J1.json")
    with pytest.raises(represent.RepresentUnavailable, match="cache"):
        represent.get_json("/representatives/x/")
    assert fake_represent.calls == []
    # A resident's lookup keeps its own process's pace.
    assert represent.postcode("K1P 1J1")
    assert len(fake_represent.calls) == 1
