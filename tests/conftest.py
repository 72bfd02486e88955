"""Shared fixtures.

Tests that need a real service carry a marker (redis, postgres, browser). Outside CI a missing
service skips them with a message saying what to start; under CI=true they fail instead.
"""

import importlib
import os
import shutil
import socket
from urllib.parse import urlparse

import pytest
from django.conf import settings
from django.test import override_settings
from django.urls import clear_url_caches
from django.utils import translation

from tests.factories import UserFactory

IN_CI = os.environ.get("CI", "").lower() == "true"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
START_REDIS = 'redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no'
START_POSTGRES = (
    "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start, then "
    "DATABASE_URL=postgres://postgres@127.0.0.1:5432/council_letters"
)


def redis_url() -> str:
    return os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/15"


def _reachable(url: str, default_port: int) -> bool:
    parsed = urlparse(url)
    try:
        with socket.create_connection(
            (parsed.hostname or "127.0.0.1", parsed.port or default_port), 1
        ):
            return True
    except OSError:
        return False


def _missing(what: str) -> None:
    if IN_CI:
        pytest.fail(f"CI=true but {what}", pytrace=False)
    pytest.skip(what)


def pytest_runtest_setup(item):
    if item.get_closest_marker("redis") and not _reachable(redis_url(), 6379):
        _missing(f"Redis is not running at {redis_url()}; start it with: {START_REDIS}")
    if item.get_closest_marker("postgres") and settings.DATABASES["default"]["ENGINE"] != (
        "django.db.backends.postgresql"
    ):
        _missing(f"these tests need PostgreSQL; start it with: {START_POSTGRES}")
    if item.get_closest_marker("browser") and not shutil.which(CHROMIUM):
        _missing(f"{CHROMIUM} is missing; install it with: apt-get install chromium")


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    """Make pytest-playwright drive Debian's chromium (playwright install cannot download)."""
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": CHROMIUM_ARGS}


@pytest.fixture(autouse=True)
def _test_defaults(settings):
    from django.core.cache import caches

    from config.celery_app import app

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    # Tasks run in-process unless a test starts a real worker (those tests flip this back).
    app.conf.task_always_eager = True
    # The default cache and the site cache's pages (in memory, two stores).
    for cache in caches.all():
        cache.clear()
    yield
    for cache in caches.all():
        cache.clear()
    # A request to a /fr/ page leaves French active in this thread: the next test would
    # otherwise start in French.
    translation.deactivate()


@pytest.fixture
def staff_user(db):
    return UserFactory(is_staff=True, is_superuser=True, username="organizer")


@pytest.fixture
def user(db):
    return UserFactory(username="alice")


@pytest.fixture
def staff_client(client, staff_user):
    client.force_login(staff_user)
    return client


@pytest.fixture
def reload_urls(settings):
    """Reload config/urls.py, which reads ANYMAIL_ESP and ADMIN_URL once at import, under the
    settings the test has set; afterwards it is reloaded under the original ones."""
    import config.urls

    original = {"ANYMAIL_ESP": settings.ANYMAIL_ESP, "ADMIN_URL": settings.ADMIN_URL}

    def reload():
        clear_url_caches()
        importlib.reload(config.urls)

    yield reload
    with override_settings(**original):
        reload()


@pytest.fixture
def french_catalog():
    """Add entries to the French catalog for one test: a message shown in French through it
    is one the code passes through gettext under exactly that msgid."""
    from django.utils.translation import trans_real

    catalog = trans_real.translation("fr")._catalog
    added = []

    def add(msgid: str, msgstr: str) -> None:
        catalog[msgid] = msgstr
        added.append(msgid)

    yield add
    for msgid in added:
        catalog._catalogs[0].pop(msgid, None)


@pytest.fixture(scope="module")
def country(django_db_setup, django_db_blocker):
    """Every Canadian municipality from the shipped seed, with the demo's wards, postal-code
    prefixes and placeholder people (as `make run` has them), loaded once per module: about
    3 s. Tests in the module run in transactions on top of it; it is removed after them."""
    from councils.demo_data import demo_data_load
    from councils.import_municipalities import municipalities_seed_load
    from councils.models import Municipality, PostcodeAnswer

    with django_db_blocker.unblock():
        municipalities_seed_load()
        demo_data_load()
        yield
        PostcodeAnswer.objects.all().delete()
        Municipality.objects.update(upper_tier=None)
        Municipality.objects.all().delete()
