import pytest
from django.test import override_settings

from config.celery_app import app
from tests.conftest import redis_url

pytestmark = pytest.mark.django_db


def test_it_reports_the_database_and_an_eager_broker(client, settings):
    settings.CELERY_BROKER_URL = "memory://"
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "broker": "eager"}
    assert "no-cache" in response["Cache-Control"]


def test_it_reports_a_broker_that_is_down(client, settings):
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"
    app.conf.task_always_eager = False
    app.conf.broker_url = "redis://127.0.0.1:1/0"
    try:
        response = client.get("/healthz")
    finally:
        app.conf.broker_url = None
    assert response.status_code == 503
    assert response.json()["broker"] == "error"
    assert response.json()["database"] == "ok"


@pytest.mark.redis
def test_it_reports_a_real_redis_broker(client, settings):
    settings.CELERY_BROKER_URL = redis_url()
    app.conf.task_always_eager = False
    app.conf.broker_url = redis_url()
    try:
        response = client.get("/healthz")
    finally:
        app.conf.broker_url = None
    assert response.status_code == 200
    assert response.json()["broker"] == "ok"


def test_it_rejects_post(client):
    with override_settings():
        assert client.post("/healthz").status_code == 405
