"""The day's digests to councillors and bundles to clerks, for campaigns that ask for them.

A digest campaign's confirmed letters wait as queued deliveries without an email, and so do
the letters a campaign files with the clerk in a daily bundle. Once a day (DIGEST_HOUR, the
beat's bundles_build) each councillor's waiting letters of a campaign become one digest, and
each council's waiting clerk letters one bundle; both are paced and kept to office hours like
any letter (letters.scheduling), and letters.sending sends them when due. For a campaign
that delivers in office hours, none is made on a day the council's offices are closed (a
weekend, a public holiday): those letters join the next office day's, so a councillor still
gets at most one a day. Every letter keeps its own delivery row and status. The waiting rows
are claimed under lock, so each goes into exactly one email; a letter confirmed meanwhile
waits for the next day's.
"""

import logging
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from campaigns.models import Campaign

from . import scheduling
from .models import Delivery, OutgoingMail

logger = logging.getLogger(__name__)


# The clerk's last bundle before a campaign's correspondence deadline is made once the
# deadline is this close (the beat's clerk_bundles_before_deadline runs every ten minutes).
CLERK_DEADLINE_LEAD = timedelta(hours=1)


def bundles_build(*, before_deadline: bool = False) -> int:
    """Turn every waiting digest and clerk delivery into its day's email. Returns how many
    emails were made.

    before_deadline: only the clerk's bundles of campaigns whose correspondence deadline is
    less than CLERK_DEADLINE_LEAD away, whatever the hour or the day: letters confirmed on the
    deadline's day reach the clerk before it, not in the next morning's bundle."""
    made = 0
    now = timezone.now()
    with transaction.atomic():
        waiting = (
            Delivery.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(status=Delivery.Status.QUEUED, mail__isnull=True, letter__is_test=False)
            .select_related("letter__campaign", "letter__municipality")
            .order_by("letter__confirmed_at", "pk")
        )
        groups: dict[tuple, list[Delivery]] = {}
        for delivery in waiting:
            campaign = delivery.letter.campaign
            council = delivery.letter.municipality
            if before_deadline:
                deadline = campaign.clerk_deadline
                if not delivery.to_clerk or deadline is None:
                    continue
                if not now < deadline <= now + CLERK_DEADLINE_LEAD:
                    continue
            elif campaign.office_hours_only and not council.office_day(council.local_date(now)):
                # Its offices are closed today (a weekend, a public holiday): the letters wait
                # for the next office day's email, so nobody gets a pile of them on Monday.
                continue
            if delivery.to_clerk:
                if campaign.clerk_mode != Campaign.ClerkMode.DAILY:
                    continue
                key = (campaign.pk, OutgoingMail.Kind.CLERK, delivery.letter.municipality_id)
            elif campaign.schedule == Campaign.Schedule.DAILY_DIGEST:
                key = (
                    campaign.pk,
                    OutgoingMail.Kind.DIGEST,
                    delivery.representative_id or delivery.recipient_email.lower(),
                )
            else:
                continue
            groups.setdefault(key, []).append(delivery)
        for (_campaign_id, kind, _recipient), group in groups.items():
            made += len(
                scheduling.council_mails_create(
                    kind=kind, campaign=group[0].letter.campaign, letter=None, groups=[group]
                )
            )
    if made:
        logger.info("Built %d digests and bundles", made)
    return made


def digest_day(campaign: Campaign, council, *, now=None) -> date:
    """The day (in TIME_ZONE, the beat's) whose digest will carry a letter to this council
    waiting now: the next build at DIGEST_HOUR, passing over the days its offices are closed
    when the campaign delivers in office hours, as bundles_build does."""
    zone = ZoneInfo(settings.TIME_ZONE)
    local = (now or timezone.now()).astimezone(zone)
    day = local.date() + timedelta(days=0 if local.hour < settings.DIGEST_HOUR else 1)
    for _day in range(15):  # a weekend and the holidays beside it, at most
        build = datetime.combine(day, time(settings.DIGEST_HOUR), tzinfo=zone)
        if not campaign.office_hours_only or council.office_day(council.local_date(build)):
            break
        day += timedelta(days=1)
    return day
