"""Delivery: getting each confirmed letter to each recipient once, and recording what happened.

The flow, one delivery row per recipient:

    pending ──letter_queue──▶ queued ──delivery_send──▶ sending ──▶ sent ──webhook──▶ delivered
                                 ▲                         │  │                       bounced
                                 └──transient, backoff─────┘  └──permanent──▶ failed  complained

Exactly once, and where it cannot be: a task locks the row, returns at once unless it is queued,
commits "sending" before the SMTP conversation and records "sent" right after the server
accepts (before QUIT). A task that runs twice therefore sends once. A worker killed during the
conversation leaves the row in "sending"; requeue_deliveries sends it again once it is older than
DELIVERY_STUCK_AFTER. Whether the server had accepted the message before the kill cannot be
known, so that narrow window (the server's "250 OK" to our commit, about a millisecond) is
at-least-once: a duplicate is possible and carries the same Message-ID as the original, so mail
clients and the council can recognise it. The alternative, at-most-once (fail stuck rows for a
person to check), would lose every letter whose worker died before the server accepted it, which
is by far the longer window. Letters matter more than a rare, recognisable duplicate.
"""

import logging
import smtplib
from dataclasses import dataclass
from datetime import timedelta

from anymail.exceptions import (
    AnymailAPIError,
    AnymailInvalidAddress,
    AnymailRecipientsRefused,
)
from billiard.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.core.mail import get_connection
from django.db import transaction
from django.db.models import Count, F, Q
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerError

from campaigns.models import Campaign

from . import emails
from .models import Delivery, Letter

logger = logging.getLogger(__name__)

# Copies not sent within this long after confirmation are no longer retried by the requeue.
COPY_REQUEUE_WINDOW = timedelta(days=2)


class DeliveryDeferred(Exception):
    """A transient failure: the deliveries are queued again and should be retried after
    countdown seconds."""

    def __init__(self, reason: str, countdown: int):
        super().__init__(reason)
        self.reason = reason
        self.countdown = countdown


@dataclass
class SendFailure:
    transient: bool
    reason: str


# --- Queueing ---------------------------------------------------------------------------------


def letter_queue(*, letter: Letter) -> None:
    """Queue a confirmed letter's deliveries and start their tasks after commit.

    Recipients without a usable address (none, or one flagged after repeated hard bounces)
    become "no email" so the resident is shown another way to reach them. The resident's copy
    is sent too when they asked for one.
    """
    with transaction.atomic():
        deliveries = list(
            letter.deliveries.select_for_update(of=("self",))
            .select_related("representative")
            .filter(status=Delivery.Status.PENDING_CONFIRMATION)
            .order_by("pk")
        )
        now = timezone.now()
        queued, unreachable = [], []
        for delivery in deliveries:
            rep = delivery.representative
            if not delivery.recipient_email or (rep is not None and rep.email_flagged):
                unreachable.append(delivery.pk)
            else:
                queued.append(delivery.pk)
        Delivery.objects.filter(pk__in=unreachable).update(
            status=Delivery.Status.NO_EMAIL, updated_at=now
        )
        Delivery.objects.filter(pk__in=queued).update(
            status=Delivery.Status.QUEUED, queued_at=now, next_attempt_at=None, updated_at=now
        )
        letter_id = letter.pk
        send_copy = bool(letter.send_copy and letter.email)

        def enqueue():
            deliveries_enqueue(delivery_ids=queued)
            if send_copy:
                letter_copy_enqueue(letter_id=letter_id)

        transaction.on_commit(enqueue)


def deliveries_enqueue(*, delivery_ids: list[int]) -> int:
    """Start a send task per delivery ("whole council" letters: one per letter).

    Never raises: when the broker is down the rows stay queued, the error is logged and
    requeue_deliveries starts them later. Returns how many tasks were started.
    """
    from .tasks import delivery_send as delivery_send_task

    started = 0
    for pk in _task_heads(delivery_ids):
        try:
            delivery_send_task.delay(pk)
        except BrokerError:
            # The broker is unreachable; every further attempt would wait as long again.
            logger.warning(
                "Broker unavailable: delivery %s and %s more stay queued for requeue_deliveries",
                pk,
                len(delivery_ids) - started - 1,
                exc_info=True,
            )
            break
        except Exception:
            # Eager mode runs the task right here; its failure is already on the row.
            logger.exception("Starting the send task for delivery %s failed", pk)
        else:
            started += 1
    return started


def _task_heads(delivery_ids: list[int]) -> list[int]:
    """One id per task: every delivery, except one per letter in "whole council" mode."""
    rows = (
        Delivery.objects.filter(pk__in=delivery_ids)
        .order_by("pk")
        .values_list("pk", "letter_id", "letter__campaign__send_mode")
    )
    heads, letters_seen = [], set()
    for pk, letter_id, send_mode in rows:
        if send_mode == Campaign.SendMode.TOGETHER:
            if letter_id in letters_seen:
                continue
            letters_seen.add(letter_id)
        heads.append(pk)
    return heads


def letter_copy_enqueue(*, letter_id: int) -> bool:
    from .tasks import letter_copy_send as letter_copy_send_task

    try:
        letter_copy_send_task.delay(letter_id)
    except BrokerError:
        logger.warning("Broker unavailable: the copy of letter %s waits for requeue", letter_id)
        return False
    except Exception:
        logger.exception("Starting the copy task for letter %s failed", letter_id)
        return False
    return True


# --- Sending ----------------------------------------------------------------------------------


def delivery_send(*, delivery_id: int) -> list[int]:
    """Send one delivery (in "whole council" mode, with the letter's other queued deliveries
    on the same message). Returns the ids marked sent; empty when there was nothing to do.

    Raises DeliveryDeferred after a transient failure when attempts remain; the rows are then
    queued again with next_attempt_at set. Permanent failures are recorded, not raised.
    """
    group = _deliveries_claim(delivery_id=delivery_id)
    if not group:
        return []
    connection = None
    try:
        message = emails.letter_message(group, message_id=group[0].message_id)
        connection = get_connection()
        connection.open()
        if not connection.send_messages([message]):
            raise ValueError("The message has no recipients.")
    except Exception as exc:  # noqa: BLE001 (every error is classified and recorded on the row)
        _close_quietly(connection)
        _send_failed(group=group, exc=exc)
        return []
    try:
        # Recorded before QUIT, which keeps the window in which a crash causes a duplicate
        # as small as possible (see the module docstring).
        return deliveries_mark_sent(group=group, status=getattr(message, "anymail_status", None))
    finally:
        _close_quietly(connection)


def _send_failed(*, group: list[Delivery], exc: Exception) -> None:
    """Record a failed attempt: failed for good, or queued again with a backoff (raising
    DeliveryDeferred so the task schedules the retry)."""
    ids = [delivery.pk for delivery in group]
    failure = send_failure(exc)
    if not failure.transient:
        logger.warning("Delivery %s failed: %s", ids, failure.reason)
        deliveries_mark_failed(delivery_ids=ids, reason=failure.reason)
        return
    attempts = max(delivery.attempts for delivery in group)
    if attempts >= settings.DELIVERY_MAX_ATTEMPTS:
        reason = f"Gave up after {attempts} attempts. Last error: {failure.reason}"
        logger.warning("Delivery %s failed: %s", ids, reason)
        deliveries_mark_failed(delivery_ids=ids, reason=reason)
        return
    countdown = retry_countdown(attempts=attempts)
    logger.info("Delivery %s deferred %ss: %s", ids, countdown, failure.reason)
    deliveries_defer(delivery_ids=ids, reason=failure.reason, countdown=countdown)
    raise DeliveryDeferred(failure.reason, countdown) from exc


def _deliveries_claim(*, delivery_id: int) -> list[Delivery]:
    """Lock the delivery (and in "whole council" mode the letter's other queued ones), mark
    them sending and commit. Returns them, or [] when the delivery is not queued: already
    sent or failed, or another task is sending it right now."""
    with transaction.atomic():
        me = (
            Delivery.objects.select_for_update(of=("self",))
            .select_related("letter__campaign", "letter__municipality")
            .filter(pk=delivery_id)
            .first()
        )
        if me is None or me.status != Delivery.Status.QUEUED:
            return []
        group = [me]
        if me.letter.campaign.send_mode == Campaign.SendMode.TOGETHER:
            # The letter's other queued deliveries go on the same message. One task is
            # started per letter (_task_heads), so two tasks seldom lock one letter's rows;
            # should they deadlock, PostgreSQL fails one and its row waits for the requeue.
            others = (
                Delivery.objects.select_for_update()
                .filter(letter_id=me.letter_id, status=Delivery.Status.QUEUED)
                .exclude(pk=me.pk)
                .order_by("pk")
            )
            for other in others:
                other.letter = me.letter
                group.append(other)
            group.sort(key=lambda row: row.pk)
        campaign = me.letter.campaign
        message_id = group[0].message_id or emails.stable_message_id(
            kind="letter", pk=group[0].pk, from_email=campaign.sender_email
        )
        now = timezone.now()
        Delivery.objects.filter(pk__in=[row.pk for row in group]).update(
            status=Delivery.Status.SENDING,
            attempts=F("attempts") + 1,
            message_id=message_id,
            next_attempt_at=None,
            updated_at=now,
        )
        for row in group:
            row.status = Delivery.Status.SENDING
            row.attempts += 1
            row.message_id = message_id
    return group


def _close_quietly(connection) -> None:
    """Close (QUIT) a mail connection. By then the outcome is recorded, and a failing QUIT
    does not undo an accepted message."""
    if connection is None:
        return
    try:
        connection.close()
    except Exception:
        logger.warning("Closing the mail connection failed", exc_info=True)


def send_failure(exc: BaseException) -> SendFailure:
    """Classify a sending error: transient (worth retrying) or permanent, with a reason."""
    if isinstance(exc, SoftTimeLimitExceeded):
        return SendFailure(True, "The send took too long (soft time limit).")
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        refusals = [
            f"{recipient}: {code} {_text(message)}"
            for recipient, (code, message) in exc.recipients.items()
        ]
        transient = all(400 <= code < 500 for code, _message in exc.recipients.values())
        return SendFailure(transient, "Recipient refused: " + "; ".join(refusals))
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        # The account, not the letter, is at fault: retry while someone fixes the settings.
        return SendFailure(
            True, f"SMTP authentication failed: {exc.smtp_code} {_text(exc.smtp_error)}"
        )
    if isinstance(exc, smtplib.SMTPConnectError):
        return SendFailure(
            True, f"SMTP connection refused: {exc.smtp_code} {_text(exc.smtp_error)}"
        )
    if isinstance(exc, smtplib.SMTPResponseException):
        transient = 400 <= exc.smtp_code < 500
        return SendFailure(transient, f"SMTP {exc.smtp_code} {_text(exc.smtp_error)}")
    if isinstance(exc, AnymailRecipientsRefused | AnymailInvalidAddress):
        return SendFailure(False, f"Refused by the email provider: {exc}")
    if isinstance(exc, AnymailAPIError):
        code = exc.status_code
        transient = code is None or code == 429 or code >= 500
        return SendFailure(transient, f"Email provider error {code or ''}: {exc}".strip())
    if isinstance(exc, OSError):
        # Connection refused or reset, timeouts, TLS errors, a dropped SMTP connection.
        return SendFailure(True, f"{type(exc).__name__}: {exc}")
    return SendFailure(False, f"{type(exc).__name__}: {exc}")


def _text(value) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def retry_countdown(*, attempts: int) -> int:
    """Seconds before the next try: DELIVERY_RETRY_BACKOFF, then 4x longer, capped."""
    base = settings.DELIVERY_RETRY_BACKOFF
    return min(base * 4 ** max(attempts - 1, 0), settings.DELIVERY_RETRY_BACKOFF_MAX)


# --- Recording outcomes -----------------------------------------------------------------------


def deliveries_mark_sent(*, group: list[Delivery], status=None) -> list[int]:
    """Record the server's acceptance. With anymail, store each recipient's ESP message id,
    and fail the recipients the ESP rejected while accepting the others."""
    now = timezone.now()
    recipients = {}
    if status is not None and status.recipients:
        recipients = {email.lower(): value for email, value in status.recipients.items()}
    sent = []
    for delivery in group:
        esp_id = ""
        recipient_status = recipients.get(delivery.recipient_email.lower())
        if recipient_status is not None:
            if recipient_status.status in ("rejected", "invalid"):
                deliveries_mark_failed(
                    delivery_ids=[delivery.pk],
                    reason=f"Refused by the email provider ({recipient_status.status}).",
                )
                continue
            esp_id = recipient_status.message_id
        elif status is not None and isinstance(status.message_id, str):
            esp_id = status.message_id
        Delivery.objects.filter(pk=delivery.pk, status=Delivery.Status.SENDING).update(
            status=Delivery.Status.SENT,
            sent_at=now,
            esp_message_id="" if esp_id is None else str(esp_id)[:300],
            updated_at=now,
        )
        sent.append(delivery.pk)
    return sent


def deliveries_mark_failed(*, delivery_ids: list[int], reason: str) -> None:
    Delivery.objects.filter(pk__in=delivery_ids, status=Delivery.Status.SENDING).update(
        status=Delivery.Status.FAILED, last_error=reason, updated_at=timezone.now()
    )


def deliveries_defer(*, delivery_ids: list[int], reason: str, countdown: int) -> None:
    """Queue deliveries again after a transient failure; the retry is due in countdown s."""
    now = timezone.now()
    Delivery.objects.filter(pk__in=delivery_ids, status=Delivery.Status.SENDING).update(
        status=Delivery.Status.QUEUED,
        last_error=reason,
        next_attempt_at=now + timedelta(seconds=countdown),
        updated_at=now,
    )


# --- ESP tracking (webhooks) -------------------------------------------------------------------

# How far along each status is: a webhook moves a delivery forward only (events can arrive out
# of order, and an ESP may repeat one).
_RANK = {
    Delivery.Status.QUEUED: 0,
    Delivery.Status.SENDING: 0,
    Delivery.Status.SENT: 1,
    Delivery.Status.DELIVERED: 2,
    Delivery.Status.FAILED: 3,
    Delivery.Status.BOUNCED: 3,
    Delivery.Status.COMPLAINED: 4,
}
_EVENT_STATUS = {
    "delivered": Delivery.Status.DELIVERED,
    "bounced": Delivery.Status.BOUNCED,
    "complained": Delivery.Status.COMPLAINED,
    "rejected": Delivery.Status.FAILED,
    "failed": Delivery.Status.FAILED,
}


def delivery_track(
    *,
    event_type: str,
    message_id: str,
    recipient: str,
    timestamp=None,
    description: str = "",
    esp_name: str = "",
) -> list[int]:
    """Apply an ESP tracking event to the deliveries it names. Returns their ids.

    A hard bounce counts against the representative's address; after
    Representative.BOUNCE_LIMIT of them the directory flags it and later letters skip it.
    A delivery counts once however often the ESP repeats the event. Other events (opened,
    clicked, deferred, ...) are ignored: no tracking of councillors' reading.
    """
    status = _EVENT_STATUS.get(event_type)
    if status is None or not message_id:
        return []
    from councils.models import Representative

    now = timezone.now()
    changed = []
    with transaction.atomic():
        rows = Delivery.objects.select_for_update().filter(
            Q(esp_message_id=message_id) | Q(message_id=message_id)
        )
        if recipient:
            rows = rows.filter(recipient_email__iexact=recipient)
        for delivery in rows:
            if _RANK.get(delivery.status, 99) >= _RANK[status]:
                continue
            fields = {"status": status, "updated_at": now}
            if status == Delivery.Status.DELIVERED:
                fields["delivered_at"] = timestamp or now
            else:
                note = f"{esp_name} {event_type}: {description}".strip()
                fields["last_error"] = note.rstrip(":")
            Delivery.objects.filter(pk=delivery.pk).update(**fields)
            changed.append(delivery.pk)
            if delivery.representative_id is None:
                continue
            reps = Representative.objects.filter(pk=delivery.representative_id)
            if status == Delivery.Status.BOUNCED:
                reps.update(bounce_count=F("bounce_count") + 1)
            elif status == Delivery.Status.DELIVERED:
                # Bounces count only while in a row; a flagged address stays flagged until
                # someone corrects it in the directory.
                reps.filter(bounce_count__lt=Representative.BOUNCE_LIMIT).update(bounce_count=0)
    return changed


# --- Recovery and control ---------------------------------------------------------------------


def deliveries_requeue(*, older_than: timedelta | None = None) -> int:
    """Queue again the deliveries whose task was lost, and start their tasks.

    Stuck means queued (or due for a retry) or sending for longer than older_than (default
    DELIVERY_STUCK_AFTER): a dead worker, a lost task, a Redis restart, a broker that was down
    when the letter was confirmed. A "sending" row may have reached the server just before its
    worker died; it is sent again with the same Message-ID (see the module docstring). Also
    restarts residents' copies that never went out. Returns how many deliveries were queued.
    """
    if older_than is None:
        older_than = timedelta(seconds=settings.DELIVERY_STUCK_AFTER)
    now = timezone.now()
    cutoff = now - older_than
    with transaction.atomic():
        stuck = list(
            Delivery.objects.stuck(older_than=cutoff)
            .select_for_update(skip_locked=True)
            .values_list("pk", "status")
        )
        interrupted = [pk for pk, status in stuck if status == Delivery.Status.SENDING]
        ids = [pk for pk, _status in stuck]
        Delivery.objects.filter(pk__in=interrupted).update(
            last_error="The worker stopped while sending; sent again with the same Message-ID."
        )
        Delivery.objects.filter(pk__in=ids).update(
            status=Delivery.Status.QUEUED, next_attempt_at=None, updated_at=now
        )
        copies = list(
            Letter.objects.filter(
                status=Letter.Status.CONFIRMED,
                send_copy=True,
                copy_sent_at__isnull=True,
                purged_at__isnull=True,
                confirmed_at__lt=cutoff,
                confirmed_at__gte=now - COPY_REQUEUE_WINDOW,
            )
            .exclude(email="")
            .values_list("pk", flat=True)
        )

        def enqueue():
            deliveries_enqueue(delivery_ids=ids)
            for letter_id in copies:
                if not letter_copy_enqueue(letter_id=letter_id):
                    break

        transaction.on_commit(enqueue)
    if ids:
        logger.info(
            "Re-queued %s stuck deliveries (%s interrupted mid-send)", len(ids), len(interrupted)
        )
    return len(ids)


def deliveries_resend(*, deliveries) -> int:
    """Try failed deliveries again: a new attempt for each, never a copy of a sent one.

    Only failed rows are touched (sent, delivered, bounced and queued ones are left alone).
    Returns how many were queued.
    """
    now = timezone.now()
    with transaction.atomic():
        ids = list(
            Delivery.objects.filter(
                pk__in=[d.pk for d in deliveries], status=Delivery.Status.FAILED
            )
            .exclude(recipient_email="")
            .select_for_update()
            .values_list("pk", flat=True)
        )
        Delivery.objects.filter(pk__in=ids).update(
            status=Delivery.Status.QUEUED,
            attempts=0,
            queued_at=now,
            next_attempt_at=None,
            updated_at=now,
        )
        transaction.on_commit(lambda: deliveries_enqueue(delivery_ids=ids))
    return len(ids)


# --- The resident's copy ----------------------------------------------------------------------


def letter_copy_send(*, letter_id: int) -> bool:
    """Email the resident their copy, at most once (claimed before sending).

    Raises DeliveryDeferred on a transient failure (the claim is released, so a retry or the
    requeue sends it). Returns True when sent.
    """
    now = timezone.now()
    claimed = (
        Letter.objects.filter(pk=letter_id, copy_sent_at__isnull=True, send_copy=True)
        .exclude(email="")
        .update(copy_sent_at=now)
    )
    if not claimed:
        return False
    letter = Letter.objects.select_related("campaign").get(pk=letter_id)
    connection = None
    try:
        message = emails.letter_copy_message(letter)
        connection = get_connection()
        connection.open()
        connection.send_messages([message])
    except Exception as exc:
        failure = send_failure(exc)
        if not failure.transient:
            logger.warning("The copy of letter %s failed: %s", letter_id, failure.reason)
            return False
        Letter.objects.filter(pk=letter_id).update(copy_sent_at=None)
        raise DeliveryDeferred(failure.reason, settings.DELIVERY_RETRY_BACKOFF) from exc
    finally:
        _close_quietly(connection)
    return True


# --- Reporting --------------------------------------------------------------------------------


def delivery_health_counts(*, campaign_ids: list[int] | None = None) -> list[dict]:
    """Delivery counts per campaign and status, for the admin's health table."""
    rows = Delivery.objects.all()
    if campaign_ids is not None:
        rows = rows.filter(letter__campaign_id__in=campaign_ids)
    counts = (
        rows.values("letter__campaign_id", "letter__campaign__slug", "status")
        .annotate(n=Count("pk"))
        .order_by("letter__campaign__slug")
    )
    table: dict[int, dict] = {}
    for row in counts:
        entry = table.setdefault(
            row["letter__campaign_id"],
            {
                "campaign_id": row["letter__campaign_id"],
                "slug": row["letter__campaign__slug"],
                "counts": {},
                "total": 0,
            },
        )
        entry["counts"][row["status"]] = row["n"]
        entry["total"] += row["n"]
    return list(table.values())
