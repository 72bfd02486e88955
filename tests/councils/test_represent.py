import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

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
