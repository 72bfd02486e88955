"""Migration 0007_outgoing_mail: emails under way or sent before the outgoing-mail table get
their rows in it, so nothing is sent twice or forgotten.

The suite runs with --nomigrations (tables made from the models), so this test loads the real
migrations itself: it records them all as applied (the tables already match the latest), goes
back to 0006, writes rows through the historical models, and migrates forward again.
"""

from datetime import timedelta

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.recorder import MigrationRecorder
from django.utils import timezone

from campaigns.models import Campaign
from letters.models import Delivery, OutgoingMail
from tests.factories import CampaignFactory, MunicipalityFactory

BEFORE = [("letters", "0006_letter_email_canonical")]


def after():
    """The newest letters migration (0010 or later): the checks read through today's models,
    so the database must have every column they have."""
    graph = MigrationExecutor(connection).loader.graph
    return [node for node in graph.leaf_nodes() if node[0] == "letters"]


@pytest.fixture
def migrate(settings):
    """migrate(targets) -> the historical apps there; the database ends at the latest."""
    settings.MIGRATION_MODULES = {}  # pytest-django's --nomigrations hides them otherwise
    latest = MigrationExecutor(connection).loader.graph.leaf_nodes()
    MigrationExecutor(connection).migrate(latest, fake=True)

    def migrate_to(targets):
        executor = MigrationExecutor(connection)
        executor.migrate(targets)
        return executor.loader.project_state(targets).apps

    yield migrate_to
    migrate_to(latest)
    MigrationRecorder(connection).migration_qs.all().delete()


@pytest.mark.django_db(transaction=True)
def test_0007_moves_emails_under_way_and_sent_into_the_outgoing_mail_table(migrate):
    old = migrate(BEFORE)
    Letter = old.get_model("letters", "Letter")
    OldDelivery = old.get_model("letters", "Delivery")
    now = timezone.now()
    separate = CampaignFactory(send_mode=Campaign.SendMode.EACH)
    together = CampaignFactory(send_mode=Campaign.SendMode.TOGETHER)
    municipality = MunicipalityFactory()

    def letter(campaign=separate, **fields):
        defaults = {
            "status": "confirmed",
            "confirmed_at": now - timedelta(hours=1),
            "email": "jane@example.net",
            "subject": "Please act",
            "body": "Dear Council",
            "send_copy": False,
        }
        return Letter.objects.create(
            campaign_id=campaign.pk, municipality_id=municipality.pk, **{**defaults, **fields}
        )

    def delivery(letter, status, n, **fields):
        return OldDelivery.objects.create(
            letter=letter,
            recipient_name=f"Rep {n}",
            recipient_email=f"rep{n}@council.example.org",
            status=status,
            **fields,
        ).pk

    retry_at = now + timedelta(minutes=4)
    one = letter(send_copy=True, copy_sent_at=now - timedelta(minutes=50))
    sent = delivery(one, "sent", 1, message_id="<m1>", attempts=1, sent_at=now)
    retrying = delivery(
        one,
        "queued",
        2,
        message_id="<m2>",
        attempts=2,
        last_error="451 try later",
        next_attempt_at=retry_at,
    )
    sending = delivery(one, "sending", 3, message_id="<m3>", attempts=1)
    failed = delivery(one, "failed", 4, message_id="<m4>", attempts=6, last_error="550 no user")
    delivered = delivery(one, "delivered", 5, message_id="<m5>", attempts=1, last_error="old")
    bounced = delivery(one, "bounced", 6, message_id="<m6>", attempts=1)
    no_email = delivery(one, "no_email", 7)
    new = [delivery(one, "queued", n) for n in (8, 9)]  # their tasks not run yet

    whole = letter(together)
    whole_sent = [delivery(whole, "sent", n, message_id="<w>", attempts=1) for n in (10, 11)]
    whole_new = letter(together, email="joe@example.net")
    whole_queued = [delivery(whole_new, "queued", n) for n in (12, 13)]

    test = letter(is_test=True, email="organizer@example.org")
    test_sent = delivery(test, "sent", 14, message_id="<t>", attempts=1)

    waiting = letter(status="pending", confirmed_at=None, confirmation_sent_at=now, email="w@x.ca")
    pending_delivery = delivery(waiting, "pending", 15)
    letter(
        status="pending",
        confirmed_at=None,
        confirmation_sent_at=now,
        confirmation_emailed_at=now,
        email="emailed@x.ca",
    )
    letter(
        status="pending",
        confirmed_at=None,
        confirmation_sent_at=now - timedelta(hours=2),
        email="stale@x.ca",
    )
    copy_due = letter(send_copy=True, email="copy@x.ca")
    letter(send_copy=True, email="old@x.ca", confirmed_at=now - timedelta(days=3))

    migrate(after())

    def mail_of(pk) -> OutgoingMail | None:
        return Delivery.objects.select_related("mail").get(pk=pk).mail

    def row(pk):
        m = mail_of(pk)
        return (m.kind, m.status, m.attempts, m.message_id, m.last_error)

    assert row(sent) == ("letter", "sent", 1, "<m1>", "")
    # 0009: each email belongs to its letter's campaign.
    assert all(m.campaign_id == m.letter.campaign_id for m in OutgoingMail.objects.all())
    assert mail_of(sent).sent_at == now
    assert row(retrying) == ("letter", "queued", 2, "<m2>", "451 try later")
    assert mail_of(retrying).send_after == retry_at
    assert row(sending) == ("letter", "sending", 1, "<m3>", "")
    assert row(failed) == ("letter", "failed", 6, "<m4>", "550 no user")
    assert row(delivered) == ("letter", "sent", 1, "<m5>", "")
    assert row(bounced) == ("letter", "sent", 1, "<m6>", "")
    assert mail_of(no_email) is None
    assert mail_of(pending_delivery) is None
    # Queued with no Message-ID yet: one email per recipient, or one for the whole council.
    assert [row(pk) for pk in new] == [("letter", "queued", 0, "", "")] * 2
    assert mail_of(new[0]).pk != mail_of(new[1]).pk
    assert {mail_of(pk).pk for pk in whole_sent} == {mail_of(whole_sent[0]).pk}
    assert row(whole_sent[0]) == ("letter", "sent", 1, "<w>", "")
    assert {mail_of(pk).pk for pk in whole_queued} == {mail_of(whole_queued[0]).pk}
    assert row(test_sent) == ("test", "sent", 1, "<t>", "")

    # Copies: the one sent is recorded, a recent one not sent yet is queued; confirmation
    # links made in the last hour and never emailed are queued.
    copies = OutgoingMail.objects.filter(kind=OutgoingMail.Kind.COPY)
    assert sorted(copies.values_list("letter_id", "status")) == [
        (one.pk, "sent"),
        (copy_due.pk, "queued"),
    ]
    confirmations = OutgoingMail.objects.filter(kind=OutgoingMail.Kind.CONFIRMATION)
    assert list(confirmations.values_list("letter_id", "status")) == [(waiting.pk, "queued")]
    # Letters: 8 to one council member each, 2 whole-council, 1 test; 2 copies, 1 link.
    assert OutgoingMail.objects.count() == 8 + 2 + 1 + 2 + 1
