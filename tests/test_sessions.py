"""Sessions (an unfinished letter, an admin's login) with Redis: Django's cached_db engine,
read through the cache and written through to the database, so a lost cache loses nothing."""

import pytest
from django.contrib.sessions.backends.cached_db import SessionStore
from django.contrib.sessions.models import Session
from django.core.cache import cache

pytestmark = pytest.mark.django_db


def test_production_uses_djangos_cached_db_engine():
    """With REDIS_URL (read at start-up, hence a fresh process)."""
    import json
    import os
    import subprocess
    import sys

    code = (
        "import json, django; django.setup(); from django.conf import settings; "
        "print(json.dumps([settings.SESSION_ENGINE, "
        "settings.CACHES['default']['OPTIONS']['IGNORE_EXCEPTIONS']]))"
    )
    env = {**os.environ, "REDIS_URL": "redis://127.0.0.1:6379/15", "DEBUG": "true"}
    env["DJANGO_SETTINGS_MODULE"] = "config.settings"
    output = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    ).stdout
    engine, ignore_exceptions = json.loads(output.strip().splitlines()[-1])
    assert engine == "django.contrib.sessions.backends.cached_db"
    assert ignore_exceptions is True


def test_a_session_outlives_the_cache():
    store = SessionStore()
    store["draft"] = {"postal_code": "K1A 0B1"}
    store.save()
    assert Session.objects.get(session_key=store.session_key).get_decoded() == {
        "draft": {"postal_code": "K1A 0B1"}
    }
    cache.clear()  # Redis restarted
    assert SessionStore(store.session_key)["draft"] == {"postal_code": "K1A 0B1"}


def test_a_change_reaches_the_database():
    store = SessionStore()
    store["step"] = 1
    store.save()
    again = SessionStore(store.session_key)
    again["step"] = 2
    again.save()
    assert Session.objects.get(session_key=store.session_key).get_decoded() == {"step": 2}
