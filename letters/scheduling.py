"""When letters reach a council: the emails to its members and clerk, each paced per
recipient across campaigns, and within the council's office hours when the campaign asks
(Municipality.office_hours_from: weekdays, 8:00 to 18:00 in its time zone, not on its
province's public holidays).

Each recipient address has a next free slot (RecipientPace). A letter queued for it takes the
later of now and that slot (moved into the next office hours if need be), and pushes the slot
on by 3600 / LETTERS_PER_RECIPIENT_HOUR seconds. The rows are locked in address order while
this happens, inside the transaction that queues the letter, so letters are served in the
order they were confirmed, and no number of workers can send a recipient more than the cap:
the times are fixed in the database before any worker sees the emails.

Those times are kept when the sender runs late (a worker down, a backlog): the sender takes an
email to a recipient only an interval after the last one it took (departures_take), under the
same lock, so emails that fell due meanwhile go out one interval apart rather than together.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Max
from django.utils import timezone

from councils.models import Municipality

from .models import Delivery, OutgoingMail, RecipientPace

# The emails to a council's members or clerk, which are paced.
COUNCIL_KINDS = (OutgoingMail.Kind.LETTER, OutgoingMail.Kind.DIGEST, OutgoingMail.Kind.CLERK)


def interval() -> timedelta:
    """The spacing between two letters to one recipient."""
    return timedelta(seconds=3600 / max(1, settings.LETTERS_PER_RECIPIENT_HOUR))


def slots_take(
    groups: list[list[str]], *, office_hours_of: Municipality | None = None, now=None
) -> list[datetime]:
    """Reserve, for each group of addresses in turn (an email each: to one recipient, or to a
    whole council), the next slot that is free for every address of the group, in the office
    hours of the council office_hours_of when given (Municipality.office_hours_from).
    Returns when each email may go out. Call it inside
    the transaction that saves the emails."""
    now = now or timezone.now()
    keys = [sorted({address.strip().lower() for address in group if address}) for group in groups]
    paces = _paces_locked(sorted({key for group in keys for key in group}), now=now)
    slots = []
    for group in keys:
        slot = max([now, *(paces[key].next_slot for key in group)])
        if office_hours_of is not None:
            slot = office_hours_of.office_hours_from(slot)
        for key in group:
            paces[key].next_slot = slot + interval()
        slots.append(slot)
    following: dict[datetime, list[int]] = {}
    for pace in paces.values():
        following.setdefault(pace.next_slot, []).append(pace.pk)
    for next_slot, pks in following.items():
        RecipientPace.objects.filter(pk__in=pks).update(next_slot=next_slot)
    return slots


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
    office_hours_of = municipality if campaign.office_hours_only else None
    mails = [OutgoingMail(kind=kind, campaign=campaign, letter=letter) for _group in groups]
    for mail in mails:
        mail.message_id_assign(from_email=campaign.sender_email)
    if held:
        for mail in mails:
            mail.status = OutgoingMail.Status.HELD
    elif kind != OutgoingMail.Kind.TEST:
        slots = slots_take(
            [[d.recipient_email for d in group] for group in groups],
            office_hours_of=office_hours_of,
        )
        for mail, slot in zip(mails, slots, strict=True):
            mail.send_after = slot
    mails = OutgoingMail.objects.bulk_create(mails)
    status = Delivery.Status.HELD if held else Delivery.Status.QUEUED
    for mail, group in zip(mails, groups, strict=True):
        Delivery.objects.filter(pk__in=[d.pk for d in group]).update(status=status, mail=mail)
    return mails


@dataclass
class Departure:
    """An email to a council the sender is about to take, and the addresses it goes to (as
    its deliveries spell them)."""

    mail: OutgoingMail
    addresses: list[str]
    office_hours_of: Municipality | None = None


def departures_take(departures: list[Departure], *, now=None) -> dict[int, datetime]:
    """The sender is about to take these emails (a claim's batch, in the order it sends
    them). An email may leave now, and its departure is recorded, when the last email to each
    of its addresses left at least an interval ago and every email queued before it to one of
    them has left. Returns the others by id, each with the time it may leave (in its council's
    office hours when given). Call it inside the transaction that claims the emails; the
    recipients' rows stay locked until it commits.

    Emails to one address are queued in the order of their slots, so their ids keep the
    order in which their letters were confirmed, whatever became of their send_after since
    (moved on here, or by a retry's backoff). Several workers may each hold a due email to
    the same recipient: whichever gets the lock first, the one queued first goes first."""
    now = now or timezone.now()
    # As the deliveries spell them, for the index on queued deliveries (_queued_before).
    spelled = sorted({address for d in departures for address in d.addresses if address})
    if not spelled:
        return {}
    lowered = sorted({address.strip().lower() for address in spelled})
    paces = _paces_locked(lowered, now=now)
    last_sent = {address: pace.last_sent_at for address, pace in paces.items()}
    queued = _queued_before(departures, addresses=spelled)
    later: dict[int, datetime] = {}
    taken: set[int] = set()
    for departure in departures:
        mine = {address for address in departure.addresses if address}
        keys = {address.strip().lower() for address in mine}
        waits = []
        last = max((last_sent[key] for key in keys if last_sent.get(key)), default=None)
        if last is not None and now < last + interval():
            waits.append(last + interval())
        before = max(
            (
                later.get(mail_id, send_after)
                for address, mail_id, send_after in queued
                if address in mine and mail_id < departure.mail.pk and mail_id not in taken
            ),
            default=None,
        )
        if before is not None:
            waits.append(max(before, now) + interval())
        if waits:
            office = departure.office_hours_of
            later[departure.mail.pk] = (
                office.office_hours_from(max(waits)) if office is not None else max(waits)
            )
            continue
        taken.add(departure.mail.pk)
        last_sent.update(dict.fromkeys(keys, now))
    left = [address for address, last in last_sent.items() if last == now]
    RecipientPace.objects.filter(address__in=left).update(last_sent_at=now)
    return later


def _paces_locked(addresses: list[str], *, now) -> dict[str, RecipientPace]:
    """The pace rows of these addresses (sorted), by address, created where missing (due
    now), locked in order."""

    def locked():
        rows = RecipientPace.objects.select_for_update().filter(address__in=addresses)
        return {pace.address: pace for pace in rows.order_by("address")}

    paces = locked()
    missing = [address for address in addresses if address not in paces]
    if missing:
        # In address order too, so two transactions creating the same rows cannot deadlock.
        RecipientPace.objects.bulk_create(
            [RecipientPace(address=address, next_slot=now) for address in missing],
            ignore_conflicts=True,
        )
        paces = locked()
    return paces


def _queued_before(
    departures: list[Departure], *, addresses: list[str]
) -> list[tuple[str, int, datetime]]:
    """The emails to a council, to one of these addresses (as the deliveries spell them),
    queued before the last of these departures and not sent yet: (address, email id, when it
    is due). Those queued before the first departure come as the latest per address."""
    first = min(d.mail.pk for d in departures)
    last = max(d.mail.pk for d in departures)
    queued = Delivery.objects.filter(
        status=Delivery.Status.QUEUED,
        recipient_email__in=addresses,
        mail__status=OutgoingMail.Status.QUEUED,
        mail__kind__in=COUNCIL_KINDS,
    )
    earlier = (
        queued.filter(mail_id__lt=first)
        .values("recipient_email")
        .annotate(last_mail=Max("mail_id"), last_due=Max("mail__send_after"))
        .values_list("recipient_email", "last_mail", "last_due")
    )
    between = queued.filter(mail_id__gte=first, mail_id__lt=last).values_list(
        "recipient_email", "mail_id", "mail__send_after"
    )
    return [*earlier, *between]


def departure_forget(*, addresses: list[str], at: datetime) -> None:
    """An email taken at this time did not reach these addresses (refused for now, to be
    retried): it no longer counts as their last departure, so the retry is not held back by
    the failed attempt itself. A later departure to them stays."""
    addresses = sorted({address.strip().lower() for address in addresses if address})
    RecipientPace.objects.filter(address__in=addresses, last_sent_at=at).update(last_sent_at=None)
