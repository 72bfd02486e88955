"""Celery tasks: thin wrappers that take ids, call a delivery service and schedule retries.

The services in letters.delivery keep the database the source of truth (status, attempts,
next_attempt_at), so a task that is lost, or runs twice, changes nothing that
requeue_deliveries cannot mend.
"""

import logging
from datetime import timedelta

from celery import shared_task

from . import delivery as services
from .delivery import DeliveryDeferred

logger = logging.getLogger(__name__)


@shared_task(bind=True, acks_late=True, max_retries=None)
def delivery_send(self, delivery_id: int) -> None:
    """Send one delivery; after a transient failure, retry when the service says."""
    try:
        services.delivery_send(delivery_id=delivery_id)
    except DeliveryDeferred as exc:
        # The attempt limit lives on the row (attempts), not in Celery's retry counter, so a
        # requeued task continues the count. An eager run (no broker) does not sleep in the
        # web request: requeue_deliveries picks the row up when its retry is due.
        if self.request.is_eager:
            return
        raise self.retry(countdown=exc.countdown, exc=exc) from exc


@shared_task(bind=True, acks_late=True, max_retries=3)
def letter_copy_send(self, letter_id: int) -> None:
    """Send the resident their copy."""
    try:
        services.letter_copy_send(letter_id=letter_id)
    except DeliveryDeferred as exc:
        if self.request.is_eager:
            return
        raise self.retry(countdown=exc.countdown, exc=exc) from exc


@shared_task(acks_late=True)
def deliveries_requeue(older_than_seconds: int | None = None) -> int:
    """The periodic sweep (CELERY_BEAT_SCHEDULE): restart deliveries whose task was lost."""
    older_than = None if older_than_seconds is None else timedelta(seconds=older_than_seconds)
    return services.deliveries_requeue(older_than=older_than)


@shared_task(bind=True, acks_late=True, max_retries=3)
def letter_confirmation_send(self, letter_id: int) -> None:
    """Email the resident the link that confirms their letter (letters.services)."""
    from .services import letter_confirmation_email_send

    try:
        letter_confirmation_email_send(letter_id=letter_id)
    except Exception as exc:
        # The letter is saved either way; the resident can ask for the link again. An eager
        # run (no broker) must not fail the web request that saved the letter.
        if self.request.is_eager:
            logger.exception("Could not send the confirmation email for letter %s", letter_id)
            return
        raise self.retry(countdown=60 * 2**self.request.retries, exc=exc) from exc


@shared_task(bind=True, acks_late=True, max_retries=3)
def letter_reminder_send(self, letter_id: int) -> None:
    """Remind a resident who already wrote that their letter went out (letters.services)."""
    from .services import letter_reminder_email_send

    try:
        letter_reminder_email_send(letter_id=letter_id)
    except Exception as exc:
        if self.request.is_eager:
            logger.exception("Could not send the reminder for letter %s", letter_id)
            return
        raise self.retry(countdown=60 * 2**self.request.retries, exc=exc) from exc


@shared_task(bind=True, acks_late=True, max_retries=None)
def dispatch_pending(self, task_name: str | None = None) -> int:
    """Queue the per-letter tasks waiting on their Redis lists (letters.dispatch); with no
    name, every batched task's and the confirmations whose task was lost (the beat schedule's
    safety net)."""
    from . import dispatch
    from .services import confirmations_requeue

    try:
        queued = sum(
            dispatch.pending_dispatch(name)
            for name in ([task_name] if task_name else sorted(dispatch.TASKS))
        )
        return queued if task_name else queued + confirmations_requeue()
    except Exception as exc:
        raise self.retry(countdown=10, exc=exc) from exc


@shared_task(acks_late=True)
def personal_data_purge() -> int:
    """The daily sweep (CELERY_BEAT_SCHEDULE): erase personal data past its retention period,
    and the expired sessions with their unfinished letters."""
    from .privacy import personal_data_purge as purge
    from .privacy import sessions_purge_expired

    sessions_purge_expired()
    return purge()


@shared_task(bind=True, acks_late=True, max_retries=3)
def letter_erased_notify(self, email: str, name: str, language: str, campaign_id: int) -> None:
    """Confirm to a resident that their data is erased. The address travels only in this
    task's arguments: the letter no longer has it."""
    from .privacy import letter_erased_notify as notify

    try:
        notify(email=email, name=name, language=language, campaign_id=campaign_id)
    except Exception as exc:
        if self.request.is_eager:
            logger.exception("Could not send the erasure confirmation for campaign %s", campaign_id)
            return
        raise self.retry(countdown=60 * 2**self.request.retries, exc=exc) from exc
