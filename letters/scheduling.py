"""When letters reach a council: the emails to its members and clerk, each paced per
recipient across campaigns, and within office hours when the campaign asks.

Each recipient address has a next free slot (RecipientPace). A letter queued for it takes the
later of now and that slot (moved into the next office hours if need be), and pushes the slot
on by 3600 / LETTERS_PER_RECIPIENT_HOUR seconds. The rows are locked in address order while
this happens, inside the transaction that queues the letter, so letters are served in the
order they were confirmed, and no number of workers can send a recipient more than the cap:
the times are fixed in the database before any worker sees the emails.

Those times are kept when the sender runs late (a worker down, a backlog): the sender takes an
email to a recipient only an interval after the last one it took (departure_take), under the
same lock, so emails that fell due meanwhile go out one interval apart rather than together.
"""

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import Max
from django.utils import timezone

from .models import Delivery, OutgoingMail, RecipientPace

# Office hours: Monday to Friday, 8:00 to 18:00 local time.
OFFICE_OPENS = time(8, 0)
OFFICE_CLOSES = time(18, 0)
OFFICE_DAYS = range(5)

# The emails to a council's members or clerk, which are paced.
COUNCIL_KINDS = (OutgoingMail.Kind.LETTER, OutgoingMail.Kind.DIGEST, OutgoingMail.Kind.CLERK)


def interval() -> timedelta:
    """The spacing between two letters to one recipient."""
    return timedelta(seconds=3600 / max(1, settings.LETTERS_PER_RECIPIENT_HOUR))


def in_office_hours(moment: datetime, time_zone: str) -> datetime:
    """The first moment at or after this one within office hours in that time zone."""
    zone = ZoneInfo(time_zone)
    local = moment.astimezone(zone)
    for _day in range(8):
        if local.weekday() in OFFICE_DAYS:
            opens = datetime.combine(local.date(), OFFICE_OPENS, tzinfo=zone)
            closes = datetime.combine(local.date(), OFFICE_CLOSES, tzinfo=zone)
            if local < opens:
                return opens
            if local < closes:
                return local
        next_day = local.date() + timedelta(days=1)
        local = datetime.combine(next_day, time(0, 0), tzinfo=zone)
    raise AssertionError("a week always has office hours")


def slot_take(*, addresses: list[str], office_hours_zone: str | None = None, now=None) -> datetime:
    """Reserve the next slot that is free for every one of these addresses (several for a
    whole-council email), in office hours in office_hours_zone when given. Returns when the
    email may go out. Call it inside the transaction that saves the email."""
    now = now or timezone.now()
    addresses = sorted({address.strip().lower() for address in addresses if address})
    paces = []
    for address in addresses:
        pace, _created = RecipientPace.objects.select_for_update().get_or_create(
            address=address, defaults={"next_slot": now}
        )
        paces.append(pace)
    slot = max([now, *(pace.next_slot for pace in paces)])
    if office_hours_zone:
        slot = in_office_hours(slot, office_hours_zone)
    following = slot + interval()
    RecipientPace.objects.filter(pk__in=[pace.pk for pace in paces]).update(next_slot=following)
    return slot


def council_mails_create(
    *, kind: str, campaign, letter, groups: list[list[Delivery]]
) -> list[OutgoingMail]:
    """Save one email per group of deliveries to a council (a recipient, the whole council, a
    councillor's digest, a clerk's bundle), each in its recipients' next paced slot, in office
    hours when the campaign asks; held while the council's mail server blocks our mail. The
    deliveries are attached. Runs in the caller's transaction; nothing is queued (the caller,
    or the sweep once they are due, starts the sending)."""
    groups = [group for group in groups if group]
    if not groups:
        return []
    municipality = groups[0][0].letter.municipality
    # A test letter goes to its organizer, not to the council: a block does not hold it.
    held = municipality.mail_blocked_at is not None and kind != OutgoingMail.Kind.TEST
    zone = municipality.time_zone if campaign.office_hours_only else None
    mails = []
    for group in groups:
        mail = OutgoingMail(kind=kind, campaign=campaign, letter=letter)
        if held:
            mail.status = OutgoingMail.Status.HELD
        elif kind != OutgoingMail.Kind.TEST:
            mail.send_after = slot_take(
                addresses=[d.recipient_email for d in group], office_hours_zone=zone
            )
        mails.append(mail)
    mails = OutgoingMail.objects.bulk_create(mails)
    status = Delivery.Status.HELD if held else Delivery.Status.QUEUED
    for mail, group in zip(mails, groups, strict=True):
        Delivery.objects.filter(pk__in=[d.pk for d in group]).update(status=status, mail=mail)
    return mails


def departure_take(
    *, mail: OutgoingMail, addresses: list[str], office_hours_zone: str | None = None, now=None
) -> datetime | None:
    """The sender is about to take this email to these addresses: None, and the departure
    is recorded, when the last email to each of them left at least an interval ago and every
    email queued before it to one of them has left; else the time it may leave (in office
    hours in office_hours_zone when given). Call it inside the transaction that claims the
    email; the recipients' rows stay locked until it commits.

    Emails to one address are queued in the order of their slots, so their ids keep the
    order in which their letters were confirmed, whatever became of their send_after since
    (moved on here, or by a retry's backoff). Several workers may each hold a due email to
    the same recipient: whichever gets the lock first, the one queued first goes first."""
    now = now or timezone.now()
    # As the deliveries spell them, for the index on queued deliveries (_queued_before).
    spelled = sorted({address for address in addresses if address})
    addresses = sorted({address.strip().lower() for address in spelled})
    if not addresses:
        return None
    paces = list(
        RecipientPace.objects.select_for_update().filter(address__in=addresses).order_by("address")
    )
    if len(paces) < len(addresses):  # an email not queued through slot_take (rare)
        paces = _paces_locked(addresses, now=now)
    waits = []
    last = max((pace.last_sent_at for pace in paces if pace.last_sent_at), default=None)
    if last is not None and now < last + interval():
        waits.append(last + interval())
    before = _queued_before(mail, addresses=spelled)
    if before is not None:
        waits.append(max(before, now) + interval())
    if waits:
        later = max(waits)
        return in_office_hours(later, office_hours_zone) if office_hours_zone else later
    RecipientPace.objects.filter(pk__in=[pace.pk for pace in paces]).update(last_sent_at=now)
    return None


def _paces_locked(addresses: list[str], *, now) -> list[RecipientPace]:
    """The pace rows of these addresses (sorted), created where missing, locked in order."""
    paces = []
    for address in addresses:
        pace, _created = RecipientPace.objects.select_for_update().get_or_create(
            address=address, defaults={"next_slot": now}
        )
        paces.append(pace)
    return paces


def _queued_before(mail: OutgoingMail, *, addresses: list[str]) -> datetime | None:
    """When the last of the emails to a council queued before this one, to one of these
    addresses (as the deliveries spell them) and not sent yet, is due; None when there is
    none (first confirmed, first sent)."""
    return Delivery.objects.filter(
        status=Delivery.Status.QUEUED,
        recipient_email__in=addresses,
        mail_id__lt=mail.pk,
        mail__status=OutgoingMail.Status.QUEUED,
        mail__kind__in=COUNCIL_KINDS,
    ).aggregate(last=Max("mail__send_after"))["last"]


def departure_forget(*, addresses: list[str], at: datetime) -> None:
    """An email taken at this time did not reach these addresses (refused for now, to be
    retried): it no longer counts as their last departure, so the retry is not held back by
    the failed attempt itself. A later departure to them stays."""
    addresses = sorted({address.strip().lower() for address in addresses if address})
    RecipientPace.objects.filter(address__in=addresses, last_sent_at=at).update(last_sent_at=None)
