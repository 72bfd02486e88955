# ruff: noqa: F811  (pytest fixtures imported from journey_helpers)
"""The client address behind a proxy: a forwarded-for header counts only when a trusted proxy
(LETTERS_TRUSTED_PROXIES) sent it, for the letter form's limits and for admin lockouts."""

import importlib

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import Client, RequestFactory

from letters.client_address import client_ip
from letters.models import Letter
from tests.letters.journey_helpers import (  # noqa: F401
    campaign,
    council,
    journey_settings,
    letter_data,
    write_and_send,
)

PROXY = "10.0.0.5"
UNTRUSTED = "203.0.113.7"
PASSWORD = "correct horse battery staple"


@pytest.fixture
def behind_proxy(settings):
    settings.LETTERS_CLIENT_IP_HEADER = "HTTP_X_FORWARDED_FOR"
    settings.LETTERS_TRUSTED_PROXIES = ["10.0.0.0/24", "2001:db8::1/128"]
    return settings


def _ip(remote: str, forwarded: str | None = None, header="HTTP_X_FORWARDED_FOR") -> str:
    extra = {header: forwarded} if forwarded is not None else {}
    return client_ip(RequestFactory().get("/", REMOTE_ADDR=remote, **extra))


# --- Which address counts ---------------------------------------------------------------------


def test_a_forwarded_for_header_from_an_untrusted_address_is_ignored(behind_proxy):
    assert _ip(UNTRUSTED, "198.51.100.1") == UNTRUSTED


def test_a_trusted_proxy_gives_the_address_it_saw(behind_proxy):
    # The client wrote the left part itself; the proxy appended the address it saw.
    assert _ip(PROXY, "1.2.3.4, 198.51.100.1") == "198.51.100.1"


def test_trusted_proxies_in_a_chain_are_skipped(behind_proxy):
    assert _ip(PROXY, "1.2.3.4, 198.51.100.1, 10.0.0.9, 10.0.0.7") == "198.51.100.1"
    assert _ip("2001:db8::1", "2001:DB8:0::9") == "2001:db8::9"


@pytest.mark.parametrize("forwarded", [None, "", "unknown", "1.2.3.4, not-an-address"])
def test_a_missing_or_garbled_header_falls_back_to_the_proxy(behind_proxy, forwarded):
    assert _ip(PROXY, forwarded) == PROXY


def test_an_ipv4_mapped_proxy_address_is_trusted(behind_proxy):
    assert _ip("::ffff:10.0.0.5", "198.51.100.1") == "198.51.100.1"


def test_a_single_address_header_works_the_same(behind_proxy):
    behind_proxy.LETTERS_CLIENT_IP_HEADER = "HTTP_X_REAL_IP"
    assert _ip(PROXY, "198.51.100.1", header="HTTP_X_REAL_IP") == "198.51.100.1"
    assert _ip(UNTRUSTED, "198.51.100.1", header="HTTP_X_REAL_IP") == UNTRUSTED


def test_without_a_header_setting_the_remote_address_counts(settings):
    settings.LETTERS_CLIENT_IP_HEADER = ""
    settings.LETTERS_TRUSTED_PROXIES = ["10.0.0.0/24"]
    assert _ip(PROXY, "198.51.100.1") == PROXY


# --- The letter form's rate limit, through the real views ------------------------------------


def _send_from(campaign, council, n: int, **extra):
    data = letter_data(email=f"writer{n}@example.org", recipients=[council["mayor"].pk])
    return write_and_send(Client(), campaign, data, **extra)


@pytest.mark.django_db
def test_a_spoofed_header_does_not_change_the_rate_limit_key(
    campaign, council, journey_settings, behind_proxy
):
    journey_settings.LETTERS_RATE_LIMIT_PER_IP = 1
    first = _send_from(
        campaign, council, 1, REMOTE_ADDR=UNTRUSTED, HTTP_X_FORWARDED_FOR="198.51.100.1"
    )
    second = _send_from(
        campaign, council, 2, REMOTE_ADDR=UNTRUSTED, HTTP_X_FORWARDED_FOR="198.51.100.2"
    )
    assert first.status_code == 302
    assert second.status_code == 429
    assert Letter.objects.count() == 1


@pytest.mark.django_db
def test_behind_a_trusted_proxy_each_client_has_its_own_limit(
    campaign, council, journey_settings, behind_proxy
):
    journey_settings.LETTERS_RATE_LIMIT_PER_IP = 1
    for n, forwarded in enumerate(["198.51.100.1", "9.9.9.9, 198.51.100.2"]):
        response = _send_from(
            campaign, council, n, REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR=forwarded
        )
        assert response.status_code == 302
    again = _send_from(
        campaign, council, 3, REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR="8.8.8.8, 198.51.100.1"
    )
    assert again.status_code == 429
    assert Letter.objects.count() == 2


# --- Admin lockouts (django-axes) -------------------------------------------------------------


def _login(username, password, **extra):
    return Client().post(
        "/admin/login/?next=/admin/", {"username": username, "password": password}, **extra
    )


@pytest.mark.django_db
def test_a_spoofed_header_does_not_escape_the_admin_lockout(staff_user, behind_proxy):
    behind_proxy.AXES_FAILURE_LIMIT = 3
    # Other usernames each time, so only the address can lock.
    for n in range(3):
        _login(f"guess{n}", "wrong", REMOTE_ADDR=UNTRUSTED, HTTP_X_FORWARDED_FOR=f"1.1.1.{n}")
    response = _login("organizer", PASSWORD, REMOTE_ADDR=UNTRUSTED, HTTP_X_FORWARDED_FOR="1.1.1.99")
    assert response.status_code == 429


@pytest.mark.django_db
def test_behind_a_trusted_proxy_the_lockout_follows_the_client(staff_user, behind_proxy):
    behind_proxy.AXES_FAILURE_LIMIT = 3
    for n in range(3):
        _login(f"guess{n}", "wrong", REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR="198.51.100.66")
    locked = _login("organizer", PASSWORD, REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR="198.51.100.66")
    other = _login("organizer", PASSWORD, REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR="198.51.100.67")
    assert locked.status_code == 429
    assert other.status_code == 302  # the proxy itself is not locked out


# --- Settings ---------------------------------------------------------------------------------


def _reload_settings(monkeypatch, **env) -> dict:
    """config.settings' values under these environment variables (then reloaded as before)."""
    import config.settings as module

    for name, value in env.items():
        monkeypatch.setenv(name, value)
    try:
        return dict(vars(importlib.reload(module)))
    finally:
        for name in env:
            monkeypatch.delenv(name)
        importlib.reload(module)


def test_trusted_proxies_come_from_the_environment(monkeypatch):
    reloaded = _reload_settings(
        monkeypatch,
        LETTERS_CLIENT_IP_HEADER="HTTP_X_FORWARDED_FOR",
        LETTERS_TRUSTED_PROXIES="10.0.0.1, 172.16.0.0/12,fd00::/8",
    )
    assert reloaded["LETTERS_TRUSTED_PROXIES"] == ["10.0.0.1/32", "172.16.0.0/12", "fd00::/8"]


def test_a_client_ip_header_without_trusted_proxies_stops_the_start(monkeypatch):
    with pytest.raises(ImproperlyConfigured, match="LETTERS_TRUSTED_PROXIES"):
        _reload_settings(monkeypatch, LETTERS_CLIENT_IP_HEADER="HTTP_X_FORWARDED_FOR")


def test_a_malformed_trusted_proxy_stops_the_start(monkeypatch):
    with pytest.raises(ImproperlyConfigured, match="10.0.0.300"):
        _reload_settings(
            monkeypatch,
            LETTERS_CLIENT_IP_HEADER="HTTP_X_REAL_IP",
            LETTERS_TRUSTED_PROXIES="10.0.0.300",
        )
