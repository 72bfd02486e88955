"""config.sessions: the cached_db store with a one-statement write-through."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.contrib.sessions.backends.base import UpdateError
from django.contrib.sessions.models import Session
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from config.sessions import SessionStore

pytestmark = pytest.mark.django_db


def test_a_new_session_is_created_in_the_database_and_the_cache():
    store = SessionStore()
    store["draft"] = {"postal_code": "K1A 0B1"}
    store.save()
    assert Session.objects.get(session_key=store.session_key).get_decoded() == {
        "draft": {"postal_code": "K1A 0B1"}
    }
    assert cache.get(store.cache_key) == {"draft": {"postal_code": "K1A 0B1"}}


def test_a_change_is_one_update_statement_and_reaches_both():
    store = SessionStore()
    store["step"] = 1
    store.save()
    again = SessionStore(store.session_key)
    again["step"] = 2
    with CaptureQueriesContext(connection) as queries:
        again.save()
    statements = [query["sql"] for query in queries.captured_queries]
    assert len(statements) == 1 and statements[0].startswith("UPDATE")
    row = Session.objects.get(session_key=store.session_key)
    assert row.get_decoded() == {"step": 2}
    expected = timezone.now() + timedelta(seconds=settings.SESSION_COOKIE_AGE)
    assert abs((row.expire_date - expected).total_seconds()) < 60
    assert SessionStore(store.session_key)["step"] == 2
    # Still there when the cache is lost (Redis restarted).
    cache.clear()
    assert SessionStore(store.session_key)["step"] == 2


def test_a_session_deleted_meanwhile_is_not_brought_back():
    store = SessionStore()
    store["step"] = 1
    store.save()
    Session.objects.filter(session_key=store.session_key).delete()
    store["step"] = 2
    with pytest.raises(UpdateError):
        store.save()
    assert not Session.objects.filter(session_key=store.session_key).exists()
