"""The one sender: every email the app sends is an OutgoingMail row, and goes out here.

    queued ──claim──▶ sending ──the server accepts──▶ sent
      ▲ send_after      │  └──permanent error, or out of attempts──▶ failed
      └──transient──────┘        (cancelled: no longer wanted when its turn came)

Two ways in, one path:
- mails_send(mail_ids): the task a service queues after commit, for the rows it saved that
  are due now.
- mails_send_due(): the beat's sweep, every DELIVERY_REQUEUE_EVERY seconds: every row that is
  due (a retry whose backoff passed, a row whose task was lost, a broker that was down) and
  every row stuck in "sending", over one mail connection.

Exactly once, and where it cannot be: rows are claimed a batch at a time (locked, marked
sending, committed) before their SMTP conversations, and each is recorded sent as soon as the
server accepts it, before the next one starts, retried on a fresh database connection should
the old one have died meanwhile. A task that runs twice therefore sends once. A worker killed
during a batch leaves its rows not yet recorded "sending", the one in conversation and those
waiting their turn; the sweep sends them again once they are older than DELIVERY_STUCK_AFTER,
which is longer than a task may live (CELERY_TASK_TIME_LIMIT), so no row still being sent is
taken. Each keeps its Message-ID, so in the narrow window between the server's "250 OK" and
the commit a duplicate is possible and recognisable. The alternative, at most once, would lose
every letter whose worker died before the server accepted it, by far the longer window.

Paced, even when late: an email to a council is taken only an interval after the last one to
its recipients and after those queued before it (letters.scheduling.departures_take); one that
comes too soon is moved on to its time instead. A sender that was down catches up one
interval at a time per recipient, not in a burst.

One policy decides about errors (send_failure): connection problems, timeouts and 4xx are
transient and retried with backoff, the same for every kind of email; 5xx refusals are
permanent, and a 5xx refusal of a representative's address counts as a hard bounce.
"""

import logging
import re
import smtplib
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.utils import parseaddr

from anymail.exceptions import AnymailAPIError, AnymailInvalidAddress, AnymailRecipientsRefused
from billiard.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.core.mail import get_connection
from django.db import DatabaseError, InterfaceError, OperationalError, transaction
from django.db import connection as db_connection
from django.db.models import F, Prefetch, Q, prefetch_related_objects
from django.utils import timezone

from councils.models import Representative

from . import emails, groups, scheduling
from .models import Delivery, Letter, OutgoingMail

logger = logging.getLogger(__name__)

# Writes that record what the mail server did are tried this often, on a fresh connection.
RECORD_ATTEMPTS = 6


@dataclass
class SendFailure:
    transient: bool
    reason: str
    # Recipients the server refused for good, with its reply (they count as hard bounces).
    refused: dict[str, str] = field(default_factory=dict)
    # What a permanent failure means (Delivery.Failure), when the reply tells.
    kind: str = ""


# --- Sending ----------------------------------------------------------------------------------


def mails_send(*, mail_ids: list[int], batch: bool = False) -> int:
    """Send these rows, those of them that are due (queued together after commit by
    letters.services). One that must wait a moment for its recipient's pace (a second email
    to one address) goes once it may, if that is before the others are through. With batch,
    go on with other due rows over the same connection for a moment (MAIL_BATCH_SECONDS): a
    busy worker then sends many emails per SMTP connection, and the tasks of the rows it took
    find nothing left to do. Returns how many of these rows went out."""
    connection = get_connection()
    sent = 0
    try:
        left = set(mail_ids)
        while left and (mails := _claim(mail_ids=sorted(left), size=len(left))):
            sent += _send_batch(mails, connection)
            left -= {mail.pk for mail in mails}
        if batch and sent:
            _send_more(connection, seconds=MAIL_BATCH_SECONDS)
        return sent
    finally:
        _close_quietly(connection)


def mails_send_due(*, now=None, stuck_after: timedelta | None = None, limit: int = 1000) -> int:
    """Send every due row and every row stuck in "sending", oldest first, over one mail
    connection (the beat's sweep and `manage.py requeue_deliveries`). Returns how many went
    out. Stops after limit rows, or when the task's time is nearly up; the next sweep goes on.
    """
    connection = get_connection()
    try:
        sent = _send_more(
            connection,
            seconds=settings.CELERY_TASK_SOFT_TIME_LIMIT / 2,
            limit=limit,
            now=now,
            stuck_after=stuck_after,
        )
    finally:
        _close_quietly(connection)
    if sent:
        logger.info("Sent %d due emails", sent)
    return sent


# How long a send task goes on with other due rows over its connection.
MAIL_BATCH_SECONDS = 5.0

# How many due rows one claim takes: one lock, one pace check and one read for them all,
# where a claim a row at a time took about a dozen queries per email. bench/delivery.py, one
# machine, one session: 21.6 -> 66.5 emails a second through the worker (worker CPU 41.6 ->
# 11.8 ms an email; with one task per transaction and pace rows taken together). The price: a
# worker killed during a batch leaves the rest of it "sending" until DELIVERY_STUCK_AFTER, as
# it does the email in conversation.
MAIL_BATCH_SIZE = 25


def _send_more(connection, *, seconds: float, limit: int = 1000, **claim) -> int:
    """Claim and send due rows a batch at a time over this connection, for at most seconds
    or limit rows. Returns how many went out."""
    started = time.monotonic()
    taken = sent = 0
    while taken < limit and time.monotonic() - started <= seconds:
        mails = _claim(size=min(MAIL_BATCH_SIZE, limit - taken), **claim)
        if not mails:
            break
        taken += len(mails)
        sent += _send_batch(mails, connection)
    return sent


def _claim(
    *,
    mail_ids: list[int] | None = None,
    size: int = 1,
    now=None,
    stuck_after: timedelta | None = None,
) -> list[OutgoingMail]:
    """Lock up to size rows that are due (or stuck), oldest first, mark them sending with a
    new attempt, and commit. Empty when there is none: rows another worker holds are skipped,
    not waited for."""
    now = now or timezone.now()
    if stuck_after is None:
        stuck_after = timedelta(seconds=settings.DELIVERY_STUCK_AFTER)
    rows = OutgoingMail.objects.filter(
        Q(status=OutgoingMail.Status.QUEUED, send_after__lte=now)
        | Q(status=OutgoingMail.Status.SENDING, updated_at__lt=now - stuck_after)
    )
    if mail_ids is not None:
        rows = rows.filter(pk__in=mail_ids)
    # Each turn claims the rows it may send, and moves those that came too soon after the last
    # email to their recipient (a sender running late) to their paced time, out of the due rows.
    while True:
        with transaction.atomic():
            # Locked by a query of this table alone, then read with what sending needs: with
            # the campaign and the letter joined into the locking query, Django spent most of
            # a claim compiling its ordering against ~190 columns.
            pks = list(
                rows.select_for_update(skip_locked=True)
                .order_by("send_after", "pk")
                .values_list("pk", flat=True)[:size]
            )
            if not pks:
                return []
            by_pk = OutgoingMail.objects.select_related(
                "campaign", "letter__campaign", "letter__municipality", "municipality"
            ).in_bulk(pks)
            mails = [by_pk[pk] for pk in pks]
            later = _paced_later(mails, now=now)
            for mail in mails:
                if mail.pk in later:
                    logger.info(
                        "Email %s waits for its recipient's pace until %s", mail.pk, later[mail.pk]
                    )
                    mail.send_after = later[mail.pk]
            OutgoingMail.objects.bulk_update(
                [mail for mail in mails if mail.pk in later], ["send_after"]
            )
            taken = [mail for mail in mails if mail.pk not in later]
            if taken:
                # The departure the recipients' pace recorded, forgotten should it fail for now.
                for mail in taken:
                    mail.departed_at = now
                return _claimed(taken, now=now)


def _paced_later(mails: list[OutgoingMail], *, now) -> dict[int, datetime]:
    """The emails to a council that may not leave yet, by id, with when they may
    (letters.scheduling.departures_take): those that would come less than an interval after the
    last one to their recipients. A row left sending by a dead worker left already: it is
    sent again at once."""
    paced = [
        mail
        for mail in mails
        if mail.kind in COUNCIL_KINDS and mail.status == OutgoingMail.Status.QUEUED
    ]
    if not paced:
        return {}
    addresses: dict[int, list[str]] = {mail.pk: [] for mail in paced}
    for mail_id, address in Delivery.objects.filter(
        mail__in=paced, status=Delivery.Status.QUEUED
    ).values_list("mail_id", "recipient_email"):
        addresses[mail_id].append(address)
    departures = []
    for mail in paced:
        office_hours_of = council_of(mail) if mail.campaign.office_hours_only else None
        departures.append(
            scheduling.Departure(
                mail=mail, addresses=addresses[mail.pk], office_hours_of=office_hours_of
            )
        )
    return scheduling.departures_take(departures, now=now)


def _claimed(mails: list[OutgoingMail], *, now) -> list[OutgoingMail]:
    """Mark locked rows sending, each with a new attempt (in the claim's transaction), with
    the deliveries each is being sent to (OutgoingMail.sending_deliveries)."""
    for mail in mails:
        if mail.status == OutgoingMail.Status.SENDING:
            mail.last_error = (
                "The worker stopped while sending; sent again with the same Message-ID."
            )
            logger.warning("Email %s was left sending; sending it again", mail.pk)
            OutgoingMail.objects.filter(pk=mail.pk).update(last_error=mail.last_error)
        if not mail.message_id:  # saved without one (a retry of one recipient, say)
            mail.message_id_assign(from_email=mail.campaign.sender_email)
            OutgoingMail.objects.filter(pk=mail.pk).update(message_id=mail.message_id)
        mail.status = OutgoingMail.Status.SENDING
        mail.attempts += 1
        mail.updated_at = now
    OutgoingMail.objects.filter(pk__in=[mail.pk for mail in mails]).update(
        status=OutgoingMail.Status.SENDING, attempts=F("attempts") + 1, updated_at=now
    )
    Delivery.objects.filter(
        mail__in=mails, status__in=[Delivery.Status.QUEUED, Delivery.Status.SENDING]
    ).update(status=Delivery.Status.SENDING, updated_at=now)
    prefetch_related_objects(
        mails,
        Prefetch(
            "deliveries",
            queryset=Delivery.objects.filter(status=Delivery.Status.SENDING).order_by("pk"),
            to_attr="sending_deliveries",
        ),
    )
    return mails


def _send_batch(mails: list[OutgoingMail], connection) -> int:
    """Send claimed rows one after another over this connection, each recorded as soon as
    the server answers. Returns how many went out."""
    sent = 0
    blocking: set[int] = set()  # councils found blocking our mail during this batch
    for mail in mails:
        council = council_of(mail)
        blocked = council is not None and (
            council.mail_blocked_at is not None or council.pk in blocking
        )
        went = _send(mail, connection, blocked=blocked)
        sent += went
        if not went and council is not None and not blocked and _blocks_our_mail(council):
            blocking.add(council.pk)
    return sent


def _blocks_our_mail(council) -> bool:
    """Whether a council's server was found blocking our mail since its row was read."""
    return type(council).objects.filter(pk=council.pk, mail_blocked_at__isnull=False).exists()


def _send(mail: OutgoingMail, connection, *, blocked: bool = False) -> bool:
    """The SMTP (or ESP) conversation for a claimed row, and the record of its outcome."""
    if not _wanted(mail):
        _record(lambda: _mark_cancelled(mail))
        return False
    if blocked:
        # Blocked since the row was queued: it waits with the council's others.
        _record(lambda: _mark_held(mail))
        return False
    try:
        message = emails.message_for(mail)
        # Opened here rather than by send_messages(), which closes a connection it opened
        # itself after each call: the sweep would make one SMTP connection per email.
        connection.open()
        if not connection.send_messages([message]):
            raise ValueError("The message has no recipients.")
    except Exception as exc:  # noqa: BLE001 (every error is classified and recorded on the row)
        # A connection that failed is not reused: the next send opens a new one.
        _close_quietly(connection)
        failure = send_failure(exc)
        _record(lambda: _mark_unsent(mail, failure))
        return False
    _record(lambda: _mark_sent(mail, message))
    return True


# The emails that go to a council's members or clerk (their server may block us).
COUNCIL_KINDS = scheduling.COUNCIL_KINDS


def council_of(mail: OutgoingMail):
    """The municipality whose council an email goes to, or None (residents' own emails)."""
    if mail.kind not in COUNCIL_KINDS:
        return None
    if mail.letter is not None:
        return mail.letter.municipality
    delivery = mail.deliveries.select_related("letter__municipality").first()
    return delivery.letter.municipality if delivery else None


def _wanted(mail: OutgoingMail) -> bool:
    """Whether the email still has a reason to go out when its turn comes."""
    letter = mail.letter
    if mail.kind == OutgoingMail.Kind.ERASED:
        return bool(mail.to_email)
    if mail.kind == OutgoingMail.Kind.BLOCKED:
        # Not once the council is resumed: the news is stale.
        return bool(mail.to_email) and mail.municipality.mail_blocked_at is not None
    if letter is None:  # a digest or a clerk's bundle: the letters still in it
        return bool(mail.deliveries_sending())
    if letter.purged_at or not letter.email:
        return False  # the writer deleted their data meanwhile
    if mail.kind in (*COUNCIL_KINDS, OutgoingMail.Kind.TEST):
        return bool(mail.deliveries_sending())
    if mail.kind in (OutgoingMail.Kind.COPY, OutgoingMail.Kind.HELD, OutgoingMail.Kind.RELEASED):
        return letter.status == Letter.Status.CONFIRMED
    if mail.kind == OutgoingMail.Kind.CONFIRMATION:
        return letter.awaits_confirmation() and timezone.now() < letter.confirmation_expires_at
    if mail.kind == OutgoingMail.Kind.UPDATE:
        # An unsubscribe is honoured at once, even for an update already queued.
        return letter.consent_given and letter.unsubscribed_at is None
    return True


def _close_quietly(connection) -> None:
    """Close (QUIT) a mail connection. By then the outcome is recorded, and a failing QUIT
    does not undo an accepted message."""
    try:
        connection.close()
    except Exception:
        logger.warning("Closing the mail connection failed", exc_info=True)


# --- The policy -------------------------------------------------------------------------------


def send_failure(exc: BaseException) -> SendFailure:
    """Classify a sending error: transient (worth retrying) or permanent, with a reason."""
    if isinstance(exc, SoftTimeLimitExceeded):
        return SendFailure(True, "The send took too long (soft time limit).")
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        refusals = {
            _mailbox(recipient): f"{code} {_text(message)}"
            for recipient, (code, message) in exc.recipients.items()
        }
        transient = all(400 <= code < 500 for code, _message in exc.recipients.values())
        # Only a 5xx refusal is a hard bounce, even when others on the message got one.
        refused = {
            _mailbox(recipient): refusals[_mailbox(recipient)]
            for recipient, (code, _message) in exc.recipients.items()
            if code >= 500
        }
        reason = "Recipient refused: " + "; ".join(f"{r}: {m}" for r, m in refusals.items())
        kinds = {
            failure_kind(code, _text(message))
            for code, message in exc.recipients.values()
            if code >= 500
        }
        kind = Delivery.Failure.POLICY_BLOCK if Delivery.Failure.POLICY_BLOCK in kinds else ""
        return SendFailure(transient, reason, refused, kind or (kinds.pop() if kinds else ""))
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
        text = _text(exc.smtp_error)
        kind = "" if transient else failure_kind(exc.smtp_code, text)
        return SendFailure(transient, f"SMTP {exc.smtp_code} {text}", kind=kind)
    if isinstance(exc, AnymailRecipientsRefused | AnymailInvalidAddress):
        return SendFailure(False, f"Refused by the email provider: {exc}")
    if isinstance(exc, AnymailAPIError):
        code = exc.status_code
        transient = code is None or code == 429 or code >= 500
        return SendFailure(transient, f"Email provider error {code or ''}: {exc}".strip())
    if isinstance(exc, OSError | DatabaseError):
        # Connection refused or reset, timeouts, TLS errors, a dropped SMTP connection; or the
        # database gone while the message was being built.
        return SendFailure(True, f"{type(exc).__name__}: {exc}")
    return SendFailure(False, f"{type(exc).__name__}: {exc}")


# Words of receiving servers that refuse on policy (a block, not a bad address).
_POLICY_WORDS = (
    "blocked",
    "block list",
    "blocklist",
    "blacklist",
    "policy",
    "spam",
    "reputation",
    "denied",
    "not authorized",
    "prohibited",
)
_UNKNOWN_WORDS = (
    "user unknown",
    "unknown user",
    "no such user",
    "does not exist",
    "unknown recipient",
    "recipient not found",
    "mailbox unavailable",
    "address rejected",
    "invalid recipient",
)
_FULL_WORDS = ("mailbox full", "quota", "over quota", "insufficient storage")
_ENHANCED_STATUS = re.compile(r"\b[45]\.(\d{1,3})\.(\d{1,3})\b")


def failure_kind(code: int | None, text: str) -> str:
    """What a permanent refusal means, from its reply code, enhanced status (RFC 3463) and
    words: the mailbox is unknown, full, the receiving server blocks us on policy, or other."""
    lowered = (text or "").lower()
    status = _ENHANCED_STATUS.search(lowered)
    if status:
        subject, detail = status.groups()
        if subject == "7":
            return Delivery.Failure.POLICY_BLOCK
        if subject == "2" and detail == "2":
            return Delivery.Failure.MAILBOX_FULL
        if subject == "1":
            return Delivery.Failure.MAILBOX_UNKNOWN
    if any(word in lowered for word in _FULL_WORDS) or code == 552:
        return Delivery.Failure.MAILBOX_FULL
    if any(word in lowered for word in _POLICY_WORDS):
        return Delivery.Failure.POLICY_BLOCK
    if any(word in lowered for word in _UNKNOWN_WORDS) or code in (550, 551, 553):
        return Delivery.Failure.MAILBOX_UNKNOWN
    return Delivery.Failure.OTHER


def reply_code(text: str) -> int | None:
    """The SMTP reply code a quoted reply starts with, as ESPs and DSNs quote it:
    "smtp; 550 5.1.1 user unknown" and "550 5.1.1 user unknown" give 550."""
    words = (text or "").replace(";", " ").split()[:2]
    codes = [int(word) for word in words if len(word) == 3 and word.isdigit()]
    return codes[0] if codes else None


# anymail's normalized reject reasons that tell what a failure is without the server's words.
# "bounced", "timed_out", "unsubscribed" and "other" leave it to the server's reply.
_REJECT_REASON_KINDS = {
    "invalid": Delivery.Failure.MAILBOX_UNKNOWN,
    "blocked": Delivery.Failure.POLICY_BLOCK,
    "spam": Delivery.Failure.SPAM_COMPLAINT,
}


def event_failure_kind(*, event_type: str, reject_reason: str, reply: str) -> str:
    """What an ESP's failure event means (Delivery.Failure), from anymail's normalized event:
    a complaint is a spam complaint; a reject reason that tells (invalid, blocked, spam) says
    it; else the receiving server's reply, read as failure_kind reads an SMTP refusal."""
    if event_type == "complained":
        return Delivery.Failure.SPAM_COMPLAINT
    kind = _REJECT_REASON_KINDS.get(reject_reason or "")
    if kind:
        return kind
    return failure_kind(reply_code(reply), reply)


def _mailbox(recipient: str) -> str:
    """The address alone, lower case. smtplib names refused recipients as they were passed to
    sendmail(), which Django's SMTP backend does with their display names ("Name <a@b>")."""
    return (parseaddr(recipient)[1] or recipient).lower()


def _text(value) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def retry_delay(*, attempts: int) -> timedelta:
    """How long after a transient failure the next try is due: DELIVERY_RETRY_BACKOFF, then
    four times longer each time, capped at DELIVERY_RETRY_BACKOFF_MAX."""
    seconds = settings.DELIVERY_RETRY_BACKOFF * 4 ** max(attempts - 1, 0)
    return timedelta(seconds=min(seconds, settings.DELIVERY_RETRY_BACKOFF_MAX))


# --- Recording outcomes -----------------------------------------------------------------------


def _record(write) -> None:
    """Run write() in a transaction, on a fresh database connection if the old one died.

    The mail server's answer must not be lost to a database that went away during the
    conversation: the row would stay "sending" and be sent a second time by the sweep.
    """
    for attempt in range(RECORD_ATTEMPTS):
        try:
            with transaction.atomic():
                write()
            return
        except (OperationalError, InterfaceError):
            if attempt == RECORD_ATTEMPTS - 1:
                raise
            logger.warning("Recording an email's outcome failed; retrying", exc_info=True)
            db_connection.close()
            time.sleep(min(0.5 * 2**attempt, 8))


def _mark_sent(mail: OutgoingMail, message) -> None:
    """Record the server's acceptance. Recipients it refused while accepting the others
    (several on one message), or the ESP rejected, fail on their own; those it refused for
    now (4xx) get an email of their own, due after the backoff. The row keeps its last error
    (a retry's reason, or that a dead worker's send was repeated)."""
    now = timezone.now()
    OutgoingMail.objects.filter(pk=mail.pk).update(
        status=OutgoingMail.Status.SENT, sent_at=now, to_email="", updated_at=now
    )
    status = getattr(message, "anymail_status", None)
    if status is None and not getattr(message, "refused_recipients", None):
        # Accepted for every recipient, by an SMTP server: nothing to tell them apart.
        mail.deliveries.filter(status=Delivery.Status.SENDING).update(
            status=Delivery.Status.SENT, sent_at=now, esp_message_id=""
        )
        return
    refused = {
        _mailbox(recipient): (code, _text(reply))
        for recipient, (code, reply) in (getattr(message, "refused_recipients", None) or {}).items()
    }
    esp = {}
    if status is not None and status.recipients:
        esp = {email.lower(): value for email, value in status.recipients.items()}
    for delivery in mail.deliveries.filter(status=Delivery.Status.SENDING):
        recipient = delivery.recipient_email.lower()
        recipient_status = esp.get(recipient)
        if recipient in refused or (
            recipient_status is not None and recipient_status.status in ("rejected", "invalid")
        ):
            kind = Delivery.Failure.OTHER
            if recipient in refused:
                code, reply = refused[recipient]
                reason = f"Refused by the receiving server: {code} {reply}"
                if code < 500 and mail.attempts < settings.DELIVERY_MAX_ATTEMPTS:
                    _delivery_retry_alone(mail, delivery, reason, now=now)
                    continue
                kind = failure_kind(code, reply)
                if kind == Delivery.Failure.POLICY_BLOCK and mail.kind in COUNCIL_KINDS:
                    _delivery_retry_alone(mail, delivery, reason, now=now, held=True)
                    council_block(council_of(mail), reason, campaign=mail.campaign)
                    continue
                if code >= 500 and delivery.representative_id and kind not in NOT_THE_ADDRESS:
                    Representative.objects.filter(pk=delivery.representative_id).bounce_recorded()
            else:
                reason = f"Refused by the email provider ({recipient_status.status})."
            _deliveries_fail([delivery], reason, kind)
            continue
        esp_id = ""
        if recipient_status is not None:
            # Not "or": anymail's test backend numbers messages from 0.
            esp_id = "" if recipient_status.message_id is None else recipient_status.message_id
        elif status is not None and isinstance(status.message_id, str):
            esp_id = status.message_id
        Delivery.objects.filter(pk=delivery.pk).update(
            status=Delivery.Status.SENT, sent_at=now, esp_message_id=str(esp_id)[:300]
        )


def _delivery_retry_alone(
    mail: OutgoingMail, delivery: Delivery, reason: str, *, now, held: bool = False
) -> None:
    """A recipient refused for now while the others were accepted: a new email for it alone,
    counting on from this one's attempts, due after the same backoff as any retry (or held,
    when the refusal was a policy block, until the council's mail is resumed)."""
    retry = OutgoingMail.objects.create(
        kind=mail.kind,
        campaign_id=mail.campaign_id,
        letter_id=mail.letter_id,
        status=OutgoingMail.Status.HELD if held else OutgoingMail.Status.QUEUED,
        attempts=mail.attempts,
        send_after=now + retry_delay(attempts=mail.attempts),
        last_error=reason,
    )
    Delivery.objects.filter(pk=delivery.pk).update(
        status=Delivery.Status.HELD if held else Delivery.Status.QUEUED,
        mail=retry,
        last_error=reason,
        failure=Delivery.Failure.POLICY_BLOCK if held else "",
        updated_at=now,
    )
    _departure_forget(mail, [delivery])


def _departure_forget(mail: OutgoingMail, deliveries: list[Delivery]) -> None:
    """These recipients did not get the email: its attempt no longer paces their next one."""
    departed_at = getattr(mail, "departed_at", None)
    if departed_at is not None:
        scheduling.departure_forget(
            addresses=[d.recipient_email for d in deliveries], at=departed_at
        )


def _mark_unsent(mail: OutgoingMail, failure: SendFailure) -> None:
    """Record a failed attempt: queued again after a backoff while attempts remain and the
    error is transient, else failed for good."""
    now = timezone.now()
    deliveries = list(mail.deliveries.filter(status=Delivery.Status.SENDING))
    if failure.transient and mail.attempts < settings.DELIVERY_MAX_ATTEMPTS:
        delay = retry_delay(attempts=mail.attempts)
        logger.info("Email %s deferred %s: %s", mail.pk, delay, failure.reason)
        OutgoingMail.objects.filter(pk=mail.pk).update(
            status=OutgoingMail.Status.QUEUED,
            send_after=now + delay,
            last_error=failure.reason,
            updated_at=now,
        )
        Delivery.objects.filter(pk__in=[d.pk for d in deliveries]).update(
            status=Delivery.Status.QUEUED, last_error=failure.reason, updated_at=now
        )
        _departure_forget(mail, deliveries)
        return
    reason = failure.reason
    if failure.kind == Delivery.Failure.POLICY_BLOCK and mail.kind in COUNCIL_KINDS:
        # Not this letter's fault: the council's server refuses our mail. Stop hammering it;
        # this email and the council's others wait until an organizer resumes them.
        council_block(council_of(mail), reason, campaign=mail.campaign)
        _mark_held(mail, reason=reason, failure=Delivery.Failure.POLICY_BLOCK)
        return
    if failure.transient:
        reason = f"Gave up after {mail.attempts} attempts. Last error: {reason}"
    logger.warning("Email %s (%s) failed: %s", mail.pk, mail.kind, reason)
    OutgoingMail.objects.filter(pk=mail.pk).update(
        status=OutgoingMail.Status.FAILED, last_error=reason, to_email="", updated_at=now
    )
    _deliveries_fail(deliveries, reason, failure.kind or Delivery.Failure.OTHER)
    # A full mailbox or a policy block is not the address's fault: no hard bounce.
    bounced = [
        d.representative_id
        for d in deliveries
        if d.representative_id
        and d.recipient_email.lower() in failure.refused
        and _refusal_kind(failure.refused[d.recipient_email.lower()]) not in NOT_THE_ADDRESS
    ]
    if mail.kind in COUNCIL_KINDS and bounced:
        Representative.objects.filter(pk__in=bounced).bounce_recorded()


# Permanent failures that are not the address's fault: they never count as a hard bounce.
NOT_THE_ADDRESS = (Delivery.Failure.POLICY_BLOCK, Delivery.Failure.MAILBOX_FULL)


def _refusal_kind(refusal: str) -> str:
    """The kind of a refusal recorded as "<code> <reply>" (SendFailure.refused)."""
    code, _space, reply = refusal.partition(" ")
    return failure_kind(int(code) if code.isdigit() else None, reply)


def _deliveries_fail(deliveries: list[Delivery], reason: str, kind: str = "") -> None:
    Delivery.objects.filter(pk__in=[d.pk for d in deliveries]).update(
        status=Delivery.Status.FAILED,
        last_error=reason,
        failure=kind or Delivery.Failure.OTHER,
        updated_at=timezone.now(),
    )


def _mark_held(mail: OutgoingMail, reason: str = "", failure: str = "") -> None:
    now = timezone.now()
    fields = {"status": OutgoingMail.Status.HELD, "updated_at": now}
    if reason:
        fields["last_error"] = reason
    OutgoingMail.objects.filter(pk=mail.pk).update(**fields)
    deliveries = {"status": Delivery.Status.HELD, "updated_at": now}
    if failure:
        deliveries.update(failure=failure, last_error=reason)
    mail.deliveries.filter(status=Delivery.Status.SENDING).update(**deliveries)


def council_block(municipality, reason: str, *, campaign) -> list[OutgoingMail]:
    """Record that this council's mail server blocks our mail, and hold its emails still
    queued: nothing more goes to it until an organizer resumes (letters.delivery_events).

    The first time, every organizer gets an alert (groups.organizer_addresses), saved due now
    in this transaction and returned: the caller queues it, or the next sweep sends it.
    A council already blocked gets no second alert."""
    if municipality is None:
        return []
    now = timezone.now()
    newly = municipality.__class__.objects.filter(
        pk=municipality.pk, mail_blocked_at__isnull=True
    ).update(mail_blocked_at=now, mail_block_reason=reason[:2000])
    held = OutgoingMail.objects.to_council(municipality).filter(
        status=OutgoingMail.Status.QUEUED, kind__in=COUNCIL_KINDS
    )
    ids = list(held.values_list("pk", flat=True))
    OutgoingMail.objects.filter(pk__in=ids).update(status=OutgoingMail.Status.HELD, updated_at=now)
    Delivery.objects.filter(mail_id__in=ids, status=Delivery.Status.QUEUED).update(
        status=Delivery.Status.HELD, updated_at=now
    )
    logger.warning("The council of %s blocks our mail: %s", municipality, reason)
    if not newly:
        return []
    alerts = [
        OutgoingMail(
            kind=OutgoingMail.Kind.BLOCKED,
            campaign=campaign,
            municipality=municipality,
            to_email=address,
            send_after=now,
        )
        for address in groups.organizer_addresses()
    ]
    for alert in alerts:
        alert.message_id_assign(from_email=settings.DEFAULT_FROM_EMAIL)
    return OutgoingMail.objects.bulk_create(alerts)


def _mark_cancelled(mail: OutgoingMail) -> None:
    now = timezone.now()
    OutgoingMail.objects.filter(pk=mail.pk).update(
        status=OutgoingMail.Status.CANCELLED, to_email="", updated_at=now
    )
    mail.deliveries.filter(status=Delivery.Status.SENDING).update(
        status=Delivery.Status.CANCELLED, updated_at=now
    )
