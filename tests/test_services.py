"""The suite talks to real services under CI: these tests prove which ones it used."""

import os

import pytest
import redis
from django.db import connection

from tests.conftest import redis_url


@pytest.mark.postgres
@pytest.mark.django_db
def test_it_runs_on_postgresql():
    assert connection.vendor == "postgresql"
    with connection.cursor() as cursor:
        cursor.execute("SELECT version()")
        assert "PostgreSQL" in cursor.fetchone()[0]


@pytest.mark.redis
def test_it_reaches_redis_over_a_real_connection():
    client = redis.Redis.from_url(redis_url())
    key = f"council-letters-test-{os.getpid()}"
    client.set(key, "1", ex=10)
    assert client.get(key) == b"1"
    client.delete(key)
