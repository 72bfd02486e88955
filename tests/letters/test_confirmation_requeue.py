# ruff: noqa: F811  (pytest fixtures imported from journey_helpers)
"""A confirmation email whose task was lost (Redis flushed, say) is queued again, once sent
never twice."""

from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.utils import timezone

from letters import services
from letters.models import Letter
from letters.tasks import dispatch_pending, letter_confirmation_send
from tests.letters.journey_helpers import campaign, council, journey_settings  # noqa: F401
from tests.letters.test_services_submit import submit

pytestmark = pytest.mark.django_db


def _lost(campaign, council, email="jane@example.org", **overrides) -> Letter:
    """A letter saved, whose confirmation task never ran (no on-commit callback here)."""
    return submit(campaign, council, email=email, **overrides)


def _links_to(address: str) -> int:
    return sum(1 for message in mail.outbox if message.to == [address])


def test_a_lost_confirmation_goes_out_on_the_next_sweep_and_only_once(
    campaign, council, journey_settings
):
    letter = _lost(campaign, council)
    assert mail.outbox == []
    with time_machine.travel(timezone.now() + timedelta(minutes=15)):
        assert dispatch_pending.apply().get() == 1  # the beat's sweep
        assert _links_to("jane@example.org") == 1
        letter.refresh_from_db()
        assert letter.confirmation_emailed_at is not None
        assert letter.confirmation_token in mail.outbox[0].body
        assert services.confirmations_requeue() == 0
        letter_confirmation_send.apply(args=[letter.pk])  # a late duplicate of the task
    assert _links_to("jane@example.org") == 1


def test_only_letters_that_wait_too_long_are_queued_again(campaign, council, journey_settings):
    now = timezone.now()
    recent = _lost(campaign, council, email="recent@example.org")
    with time_machine.travel(now - timedelta(hours=2)):
        _lost(campaign, council, email="old@example.org")  # past the hour: ask for a new link
    with time_machine.travel(now - timedelta(minutes=20)):
        waiting = _lost(campaign, council, email="waiting@example.org")
        sent = _lost(campaign, council, email="sent@example.org")
        test_letter = _lost(campaign, council, email="test@example.org", is_test=True)
    Letter.objects.filter(pk=sent.pk).update(confirmation_emailed_at=now)
    Letter.objects.filter(pk=test_letter.pk).update(
        status=Letter.Status.PENDING_CONFIRMATION, confirmation_sent_at=now - timedelta(minutes=20)
    )
    assert services.confirmations_requeue(now=now) == 1
    assert [message.to for message in mail.outbox] == [["waiting@example.org"]]
    waiting.refresh_from_db()
    recent.refresh_from_db()
    assert waiting.confirmation_emailed_at and not recent.confirmation_emailed_at


def test_a_new_link_goes_out_although_the_first_one_did(
    campaign, council, journey_settings, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        letter = submit(campaign, council)
    first = mail.outbox[-1].body
    with django_capture_on_commit_callbacks(execute=True):
        services.letter_confirmation_resend(letter=letter)
    assert len(mail.outbox) == 2
    letter.refresh_from_db()
    assert letter.confirmation_token in mail.outbox[-1].body
    assert letter.confirmation_token not in first
    assert letter.confirmation_emailed_at is not None
