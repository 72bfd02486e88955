"""Admin login rate limiting (django-axes), the configurable admin URL and staff access."""

import pytest
from axes.models import AccessAttempt
from django.test import Client, override_settings
from django.urls import clear_url_caches

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery staple"


def _login(client, password, username="organizer", ip="203.0.113.7"):
    return client.post(
        "/admin/login/?next=/admin/",
        {"username": username, "password": password},
        REMOTE_ADDR=ip,
    )


@pytest.fixture
def limited(settings):
    settings.AXES_FAILURE_LIMIT = 3
    return settings


def test_it_locks_an_address_out_after_the_failure_limit(client, staff_user, limited):
    for _ in range(2):
        assert _login(client, "wrong").status_code == 200  # the form again, with an error
    assert _login(client, "wrong").status_code == 429
    # Even the right password is refused while locked out.
    response = _login(client, PASSWORD)
    assert response.status_code == 429
    assert "_auth_user_id" not in client.session


def test_a_lockout_does_not_touch_other_addresses(client, staff_user, limited):
    for n in range(3):
        # Other usernames each time: only the address reaches the limit.
        _login(client, "wrong", username=f"guess{n}", ip="203.0.113.7")
    other = Client()
    response = _login(other, PASSWORD, ip="198.51.100.9")
    assert response.status_code == 302
    assert response["Location"] == "/admin/"


def test_a_username_is_locked_after_failures_from_many_addresses(staff_user, limited):
    for n in range(3):
        assert _login(Client(), "wrong", ip=f"198.51.100.{n}").status_code in (200, 429)
    # The right password, from an address that never failed, is refused too.
    response = _login(Client(), PASSWORD, ip="192.0.2.200")
    assert response.status_code == 429
    # Other accounts, from fresh addresses, are not affected.
    UserFactory(username="colleague", is_staff=True)
    assert _login(Client(), PASSWORD, username="colleague", ip="192.0.2.201").status_code == 302


def test_a_success_resets_the_count(client, staff_user, limited):
    _login(client, "wrong")
    _login(client, "wrong")
    assert _login(client, PASSWORD).status_code == 302
    client.logout()
    _login(client, "wrong")
    assert _login(client, PASSWORD).status_code == 302


def test_the_limit_can_be_turned_off(client, staff_user, settings):
    settings.AXES_ENABLED = False
    for _ in range(10):
        _login(client, "wrong")
    assert _login(client, PASSWORD).status_code == 302
    assert not AccessAttempt.objects.exists()


def test_limits_come_from_the_environment(monkeypatch):
    import importlib

    import config.settings as module

    monkeypatch.setenv("AXES_FAILURE_LIMIT", "9")
    monkeypatch.setenv("AXES_COOLOFF_MINUTES", "5")
    reloaded = importlib.reload(module)
    try:
        assert reloaded.AXES_FAILURE_LIMIT == 9
        assert reloaded.AXES_COOLOFF_TIME.total_seconds() == 300
    finally:
        monkeypatch.delenv("AXES_FAILURE_LIMIT")
        monkeypatch.delenv("AXES_COOLOFF_MINUTES")
        importlib.reload(module)


def test_non_staff_cannot_use_the_admin(client):
    UserFactory(username="resident")
    response = _login(client, PASSWORD, username="resident")
    assert response.status_code == 200
    assert "_auth_user_id" not in client.session


def test_the_admin_url_is_configurable(settings, staff_user):
    import importlib

    import config.urls

    settings.ADMIN_URL = "back-office-7f3/"
    try:
        clear_url_caches()
        importlib.reload(config.urls)
        with override_settings(ROOT_URLCONF="config.urls"):
            client = Client()
            assert client.get("/back-office-7f3/login/").status_code == 200
            assert client.get("/admin/login/").status_code == 404
    finally:
        settings.ADMIN_URL = "admin/"
        importlib.reload(config.urls)
        clear_url_caches()
