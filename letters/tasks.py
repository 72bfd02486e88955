"""Celery tasks: thin wrappers that take ids and call the sender or the purge.

Nothing here retries through Celery: a failed send is recorded on its OutgoingMail row with
the time its retry is due, and the sweep sends it then (letters.sending). A task that is
lost, or runs twice, therefore changes nothing the sweep cannot mend.
"""

from celery import shared_task

from . import bundles, erasure, followups, sending


@shared_task(bind=True, acks_late=True)
def mails_send(self, mail_ids: list[int]) -> int:
    """Send the emails one transaction saved, those due now (queued by letters.services after
    commit); on a worker, go on with other due emails over the same connection for a moment.
    Run eagerly (in a web request, the embedded default), send just these."""
    return sending.mails_send(mail_ids=mail_ids, batch=not self.request.is_eager)


@shared_task(acks_late=True)
def mails_send_due() -> int:
    """The sweep (CELERY_BEAT_SCHEDULE): every due email, and every one left sending by a
    worker that died."""
    return sending.mails_send_due()


@shared_task(acks_late=True)
def bundles_build() -> int:
    """The daily job (CELERY_BEAT_SCHEDULE): the day's digests and clerk's bundles."""
    return bundles.bundles_build()


@shared_task(acks_late=True)
def clerk_bundles_before_deadline() -> int:
    """Every ten minutes (CELERY_BEAT_SCHEDULE): the clerk's bundle of a campaign whose
    correspondence deadline is near, so its last letters are filed in time."""
    return bundles.bundles_build(before_deadline=True)


@shared_task(acks_late=True)
def followups_send() -> int:
    """The daily job (CELERY_BEAT_SCHEDULE): ask writers who wanted it whether council
    replied (the emails go out with the next sweep)."""
    return followups.followups_create()


@shared_task(acks_late=True)
def personal_data_purge() -> int:
    """The daily sweep (CELERY_BEAT_SCHEDULE): erase personal data past its retention period,
    and the expired sessions with their unfinished letters."""
    erasure.sessions_purge_expired()
    return erasure.personal_data_purge()
