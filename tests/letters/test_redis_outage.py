# ruff: noqa: F811  (fixtures imported from test_faults and journey_helpers)
"""Redis goes away in the middle of residents' journeys: the site keeps answering, no letter
is lost, and everything goes out once Redis is back.

Redis here is the test's own redis-server (killed and restarted by the test), serving as cache,
session cache and Celery broker at once, as in production. A real worker sends to a real SMTP
sink; the database is PostgreSQL.
"""

import re

import pytest
from django.core import mail
from django.core.management import call_command
from django.test import Client

from config.celery_app import app
from letters.models import Delivery, Letter, OutgoingMail
from tests.factories import UserFactory
from tests.letters.delivery_helpers import use_smtp
from tests.letters.journey_helpers import (  # noqa: F401
    campaign,
    choose_council,
    council,
    fill_letter,
    journey_settings,
    letter_data,
    send,
)
from tests.letters.test_faults import (  # noqa: F401
    _publish_to,
    private_redis,
    smtp,
    wait_until,
    workers,
)

pytestmark = [
    pytest.mark.redis,
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
]


@pytest.fixture
def redis_everywhere(private_redis, settings):
    """Cache, sessions and broker on the test's own Redis, configured as in production."""
    private_redis.start()
    production = settings.CACHES["default"]
    if production["BACKEND"] == "django.core.cache.backends.locmem.LocMemCache":
        # Run without REDIS_URL: config/settings.py's Redis cache, as it stands there.
        production = {
            "BACKEND": "django_redis.cache.RedisCache",
            "OPTIONS": {"IGNORE_EXCEPTIONS": True, "SOCKET_CONNECT_TIMEOUT": 1},
        }
    settings.CACHES = {
        "default": {**production, "LOCATION": private_redis.url},
        # The site cache's pages, under a prefix of their own as in config/settings.py.
        "pages": {
            **production,
            "LOCATION": private_redis.url,
            "KEY_PREFIX": production.get("KEY_PREFIX", "") + ":pages",
        },
    }
    settings.SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
    old_url = app.conf.broker_url
    _publish_to(private_redis.url)
    yield private_redis
    _publish_to(old_url)
    app.conf.task_always_eager = True


def journey(client, campaign, council, email: str) -> list[int]:
    """Every page of a resident's journey; returns the status codes."""
    data = letter_data(recipients=[rep.pk for rep in council["emailable"]], email=email)
    codes = [client.get(f"/campaigns/{campaign.slug}/").status_code]
    codes.append(choose_council(client, campaign).status_code)
    codes.append(client.get(f"/campaigns/{campaign.slug}/write/").status_code)
    codes.append(fill_letter(client, campaign, data).status_code)
    codes.append(client.get(f"/campaigns/{campaign.slug}/preview/").status_code)
    response = send(client, campaign)
    codes.append(response.status_code)
    codes.append(client.get(response["Location"]).status_code)
    return codes


JOURNEY_OK = [200, 302, 200, 302, 200, 302, 200]


def link_for(smtp, address: str) -> str:
    for arrived in smtp.recorder.received:
        if address in arrived.rcpt_tos:
            text = arrived.message.get_body(("plain",)).get_content()
            # The worker builds links with its own SITE_URL: keep the path.
            return re.search(r"https?://[^/\s]+(/\S*letters/confirm/\S+)", text).group(1)
    raise AssertionError(f"no email to {address}")


def test_the_whole_journey_survives_redis_going_down_and_sends_everything_after(
    redis_everywhere, smtp, workers, campaign, council, journey_settings, settings
):
    workers.start(broker_url=redis_everywhere.url, smtp_port=smtp.port)
    before = Client()
    assert journey(before, campaign, council, "before@example.org") == JOURNEY_OK
    wait_until(lambda: smtp.recorder.received, timeout=60, what="the first confirmation")
    first_link = link_for(smtp, "before@example.org")

    redis_everywhere.stop()

    # A new resident writes from start to end; the first one confirms; staff log in.
    during = Client()
    assert journey(during, campaign, council, "during@example.org") == JOURNEY_OK
    assert before.get(first_link).status_code == 200
    assert before.post(first_link).status_code == 302
    UserFactory(username="organizer", password="pw-for-tests-only", is_staff=True)
    staff = Client()
    assert staff.get("/admin/login/").status_code == 200
    response = staff.post(
        "/admin/login/", {"username": "organizer", "password": "pw-for-tests-only"}
    )
    assert response.status_code == 302
    assert staff.get("/admin/").status_code == 200

    # Both letters are saved; nothing waits anywhere but in the database.
    during_letter = Letter.objects.get(email="during@example.org")
    assert during_letter.status == Letter.Status.PENDING_CONFIRMATION
    first = Letter.objects.get(email="before@example.org")
    assert first.status == Letter.Status.CONFIRMED
    assert set(first.deliveries.exclude(recipient_email="").values_list("status", flat=True)) == {
        Delivery.Status.QUEUED
    }

    redis_everywhere.start()
    # The beat's sweep, as it runs every minute: letters and confirmation links alike. It
    # sends from this process, so here through the same SMTP sink as the worker.
    use_smtp(settings, smtp.port)
    call_command("requeue_deliveries", "--older-than", "0")
    wait_until(
        lambda: first.deliveries.filter(status=Delivery.Status.SENT).count() == 3,
        timeout=90,
        what="the first letter's deliveries",
    )
    wait_until(
        lambda: any("during@example.org" in m.rcpt_tos for m in smtp.recorder.received),
        timeout=90,
        what="the second resident's confirmation",
    )
    recipients = sorted(r for m in smtp.recorder.received for r in m.rcpt_tos)
    assert recipients.count("during@example.org") == 1
    assert recipients.count("mayor@ottawa.example.org") == 1
    # Each email went out once, under the Message-ID its row keeps.
    assert all(len(copies) == 1 for copies in smtp.recorder.by_message_id().values())
    sent_ids = set(
        OutgoingMail.objects.filter(status=OutgoingMail.Status.SENT).values_list(
            "message_id", flat=True
        )
    )
    assert set(smtp.recorder.by_message_id()) <= sent_ids
    assert mail.outbox == []  # everything went through the SMTP sink
