"""Pacing per recipient across campaigns, first confirmed first sent, office hours in each
council's own time zone (letters.scheduling), and what the status page says about it."""

import itertools
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.utils import timezone, translation

from campaigns.models import Campaign
from campaigns.templatetags.campaign_tags import long_datetime
from councils.models import Municipality
from letters.models import Delivery, OutgoingMail, RecipientPace
from letters.sending import mails_send, mails_send_due
from letters.services import letter_queue
from tests.factories import CampaignFactory
from tests.letters.council_helpers import confirm, council, letter_to, mails_to, received_by

pytestmark = pytest.mark.django_db

# Monday 2 November 2026, 14:00 UTC: 9:00 in Toronto (standard time since 1 November).
MONDAY = datetime(2026, 11, 2, 14, 0, tzinfo=UTC)
INTERVAL = timedelta(minutes=3)  # 20 letters an hour


@pytest.fixture(autouse=True)
def twenty_an_hour(settings):
    settings.LETTERS_PER_RECIPIENT_HOUR = 20


@pytest.fixture
def clock():
    with time_machine.travel(MONDAY, tick=False) as traveller:
        yield traveller


def sweep_until(clock, end: datetime, *, every: timedelta = timedelta(seconds=30)) -> None:
    """Play beat: the sweep every 30 seconds of frozen time up to end."""
    moment = timezone.now()
    while moment < end:
        moment = min(moment + every, end)
        clock.move_to(moment)
        mails_send_due()


def local(moment: datetime, zone: str) -> str:
    return moment.astimezone(ZoneInfo(zone)).strftime("%a %H:%M")


# --- Pacing ---------------------------------------------------------------------------------------


def test_no_recipient_gets_more_than_the_cap_an_hour_across_two_campaigns(
    clock, django_capture_on_commit_callbacks, mailoutbox
):
    (rep,) = council()
    first, second = CampaignFactory(), CampaignFactory()
    for n in range(30):
        campaign = first if n % 2 else second
        confirm(
            letter_to([rep], campaign=campaign, first_name=f"W{n}"),
            django_capture_on_commit_callbacks,
        )

    slots = [m.send_after for m in mails_to(rep.email)]
    assert len(slots) == 30
    assert slots[0] == MONDAY
    assert all(b - a == INTERVAL for a, b in itertools.pairwise(slots))
    assert len(received_by(rep.email)) == 1  # the first went out at once

    sweep_until(clock, MONDAY + timedelta(minutes=59, seconds=59))
    assert len(received_by(rep.email)) == 20
    campaigns = {m.campaign_id for m in mails_to(rep.email)[:20]}
    assert campaigns == {first.pk, second.pk}

    sweep_until(clock, MONDAY + timedelta(hours=1, minutes=29, seconds=59))
    assert len(received_by(rep.email)) == 30


def test_each_recipient_has_a_pace_of_its_own(clock, django_capture_on_commit_callbacks):
    reps = council(2)
    confirm(letter_to(reps), django_capture_on_commit_callbacks)
    confirm(letter_to(reps, first_name="Paul"), django_capture_on_commit_callbacks)

    for rep in reps:
        assert [m.send_after for m in mails_to(rep.email)] == [MONDAY, MONDAY + INTERVAL]
    assert set(RecipientPace.objects.values_list("address", flat=True)) == {
        rep.email for rep in reps
    }


def test_an_address_is_paced_whatever_its_case(clock, django_capture_on_commit_callbacks):
    (rep,) = council()
    confirm(letter_to([rep]), django_capture_on_commit_callbacks)
    rep.email = rep.email.upper()
    rep.save()
    confirm(letter_to([rep], first_name="Paul"), django_capture_on_commit_callbacks)

    assert RecipientPace.objects.get().next_slot == MONDAY + 2 * INTERVAL


def test_first_confirmed_is_first_sent(clock, django_capture_on_commit_callbacks, mailoutbox):
    (rep,) = council()
    names = ["Ann", "Bob", "Cat", "Dan", "Eve"]
    for minute, name in enumerate(names):
        clock.move_to(MONDAY + timedelta(seconds=minute))
        confirm(letter_to([rep], first_name=name), django_capture_on_commit_callbacks)

    sweep_until(clock, MONDAY + timedelta(hours=1))

    assert [m.from_email.split(" via ")[0].strip('"') for m in received_by(rep.email)] == [
        f"{name} Resident" for name in names
    ]
    sent = sorted(mails_to(rep.email), key=lambda m: m.sent_at)
    assert [m.letter.first_name for m in sent] == names


def test_a_whole_council_email_takes_one_slot_free_for_every_address(
    clock, django_capture_on_commit_callbacks
):
    reps = council(3)
    together = CampaignFactory(send_mode=Campaign.SendMode.TOGETHER)
    # The second member already has two letters waiting from another campaign.
    confirm(letter_to([reps[1]], first_name="Ann"), django_capture_on_commit_callbacks)
    confirm(letter_to([reps[1]], first_name="Bob"), django_capture_on_commit_callbacks)

    letter = confirm(letter_to(reps, campaign=together), django_capture_on_commit_callbacks)

    (email,) = {d.mail for d in letter.deliveries.all()}
    assert email.send_after == MONDAY + 2 * INTERVAL
    # The slot is taken for every address: each one's next letter comes an interval later.
    paces = dict(RecipientPace.objects.values_list("address", "next_slot"))
    assert paces == {rep.email: MONDAY + 3 * INTERVAL for rep in reps}


def test_a_test_letter_to_the_organizer_takes_no_councillors_slot(
    clock, django_capture_on_commit_callbacks, mailoutbox
):
    (rep,) = council()
    confirm(letter_to([rep], is_test=True), django_capture_on_commit_callbacks)

    assert not RecipientPace.objects.exists()
    assert len(mailoutbox) == 1


# --- A sender that runs late ----------------------------------------------------------------------


def test_a_sender_that_runs_late_sends_no_burst_to_catch_up(
    clock, django_capture_on_commit_callbacks, mailoutbox
):
    """The slots were fixed when the letters were queued; a sweep that comes ten minutes
    late (a worker down, a backlog) must still space them by the interval."""
    (rep,) = council()
    with django_capture_on_commit_callbacks(execute=False):
        for name in ("Ann", "Bob", "Cat", "Dan"):
            letter_queue(letter=letter_to([rep], first_name=name))
    assert [m.send_after for m in mails_to(rep.email)] == [MONDAY + n * INTERVAL for n in range(4)]

    late = MONDAY + timedelta(minutes=10)
    clock.move_to(late)
    mails_send_due()
    assert len(received_by(rep.email)) == 1

    waiting = [m for m in mails_to(rep.email) if m.status == OutgoingMail.Status.QUEUED]
    assert [m.letter.first_name for m in waiting] == ["Bob", "Cat", "Dan"]
    assert all(m.send_after >= late + INTERVAL for m in waiting)

    for n in (1, 2, 3):
        clock.move_to(late + n * INTERVAL - timedelta(seconds=1))
        mails_send_due()
        assert len(received_by(rep.email)) == n
        clock.move_to(late + n * INTERVAL)
        mails_send_due()
        assert len(received_by(rep.email)) == n + 1
    sent_order = sorted(mails_to(rep.email), key=lambda m: m.sent_at)
    assert [m.letter.first_name for m in sent_order] == ["Ann", "Bob", "Cat", "Dan"]


def test_a_late_letter_deferred_by_the_pace_keeps_to_office_hours(
    clock, django_capture_on_commit_callbacks, mailoutbox
):
    (rep,) = council(province="NS", name="Halifax")
    campaign = CampaignFactory(office_hours_only=True)
    # Friday 17:50 in Halifax (21:50 UTC): two letters, 17:50 and 17:53.
    friday = datetime(2026, 11, 6, 21, 50, tzinfo=UTC)
    clock.move_to(friday)
    with django_capture_on_commit_callbacks(execute=False):
        letter_queue(letter=letter_to([rep], campaign=campaign, first_name="Ann"))
        letter_queue(letter=letter_to([rep], campaign=campaign, first_name="Bob"))

    clock.move_to(friday + timedelta(minutes=8))  # 17:58: both overdue
    mails_send_due()

    assert len(received_by(rep.email)) == 1
    (waiting,) = [m for m in mails_to(rep.email) if m.status == OutgoingMail.Status.QUEUED]
    assert local(waiting.send_after, "America/Halifax") == "Mon 08:00"


# --- Office hours -------------------------------------------------------------------------------


# Friday 6 November 2026, 17:59 in Halifax (UTC-4) is 13:59 in Vancouver (UTC-8).
FRIDAY_1759_HALIFAX = datetime(2026, 11, 6, 21, 59, tzinfo=UTC)


@pytest.mark.parametrize(
    ("province", "zone", "first", "second"),
    [
        ("NS", "America/Halifax", "Fri 17:59", "Mon 08:00"),
        ("BC", "America/Vancouver", "Fri 13:59", "Fri 14:02"),
    ],
)
def test_a_letter_confirmed_at_1759_friday_in_halifax(
    province, zone, first, second, clock, django_capture_on_commit_callbacks
):
    (rep,) = council(province=province, name=f"Town in {province}")
    campaign = CampaignFactory(office_hours_only=True)
    clock.move_to(FRIDAY_1759_HALIFAX)
    confirm(letter_to([rep], campaign=campaign), django_capture_on_commit_callbacks)
    confirm(
        letter_to([rep], campaign=campaign, first_name="Bob"), django_capture_on_commit_callbacks
    )

    slots = [local(m.send_after, zone) for m in mails_to(rep.email)]
    assert slots == [first, second]


def test_office_hours_open_at_8_and_close_at_18_local_time():
    halifax, zone = Municipality(province="NS"), "America/Halifax"
    assert local(halifax.office_hours_from(FRIDAY_1759_HALIFAX), zone) == "Fri 17:59"
    at_six = FRIDAY_1759_HALIFAX + timedelta(minutes=1)
    assert local(halifax.office_hours_from(at_six), zone) == "Mon 08:00"
    monday_early = datetime(2026, 11, 9, 11, 59, tzinfo=UTC)  # 7:59 in Halifax
    assert local(halifax.office_hours_from(monday_early), zone) == "Mon 08:00"


@pytest.mark.parametrize(
    ("province", "moment", "opens"),
    [
        # Christmas Eve, Thursday 24 December 2026, 18:30 in Toronto: Christmas and Boxing Day
        # (Saturday, so Monday the 28th off) close the offices until Tuesday the 29th.
        ("ON", datetime(2026, 12, 24, 23, 30, tzinfo=UTC), "Tue 29 Dec 08:00"),
        # Canada Day, Wednesday 1 July 2026, everywhere.
        ("BC", datetime(2026, 7, 1, 16, 0, tzinfo=UTC), "Thu 02 Jul 08:00"),
        # La Fête nationale, Wednesday 24 June 2026: Québec's offices close, Ontario's do not.
        ("QC", datetime(2026, 6, 24, 14, 0, tzinfo=UTC), "Thu 25 Jun 08:00"),
        ("ON", datetime(2026, 6, 24, 14, 0, tzinfo=UTC), "Wed 24 Jun 10:00"),
        # Good Friday, 3 April 2026, then the weekend.
        ("NS", datetime(2026, 4, 2, 22, 30, tzinfo=UTC), "Mon 06 Apr 08:00"),
    ],
)
def test_office_hours_skip_the_provinces_public_holidays(province, moment, opens):
    council = Municipality(province=province)
    local_opening = council.office_hours_from(moment).astimezone(ZoneInfo(council.time_zone))
    assert local_opening.strftime("%a %d %b %H:%M") == opens


def test_a_letter_confirmed_on_christmas_eve_evening_waits_for_the_offices_to_reopen(
    clock, django_capture_on_commit_callbacks, mailoutbox
):
    (rep,) = council(province="ON", name="Barrie")
    campaign = CampaignFactory(office_hours_only=True)
    clock.move_to(datetime(2026, 12, 24, 23, 30, tzinfo=UTC))  # 18:30 in Barrie
    confirm(letter_to([rep], campaign=campaign), django_capture_on_commit_callbacks)

    (mail,) = mails_to(rep.email)
    assert mail.send_after == datetime(2026, 12, 29, 13, 0, tzinfo=UTC)  # Tuesday 8:00 EST
    sweep_until(clock, datetime(2026, 12, 29, 12, 55, tzinfo=UTC), every=timedelta(hours=6))
    assert received_by(rep.email) == []


def test_a_letter_confirmed_on_the_weekend_goes_out_monday_at_8(
    clock, django_capture_on_commit_callbacks, mailoutbox
):
    (rep,) = council()
    campaign = CampaignFactory(office_hours_only=True)
    clock.move_to(datetime(2026, 11, 7, 17, 0, tzinfo=UTC))  # Saturday noon in Toronto
    letter = confirm(letter_to([rep], campaign=campaign), django_capture_on_commit_callbacks)

    (mail,) = mails_to(rep.email)
    assert mail.send_after == datetime(2026, 11, 9, 13, 0, tzinfo=UTC)  # Monday 8:00 EST
    assert received_by(rep.email) == []
    clock.move_to(datetime(2026, 11, 9, 12, 59, tzinfo=UTC))
    mails_send_due()
    assert received_by(rep.email) == []
    clock.move_to(datetime(2026, 11, 9, 13, 0, tzinfo=UTC))
    mails_send_due()
    assert len(received_by(rep.email)) == 1
    assert letter.deliveries.get().status == Delivery.Status.SENT


def test_newfoundland_opens_half_an_hour_before_halifax_and_ninety_minutes_before_toronto(
    clock, django_capture_on_commit_callbacks
):
    campaign = CampaignFactory(office_hours_only=True)
    # Monday 7:45 in St. John's (UTC-3:30) is 11:15 UTC.
    clock.move_to(datetime(2026, 11, 9, 11, 15, tzinfo=UTC))
    due = {}
    for province in ("NL", "NS", "ON"):
        (rep,) = council(province=province, name=f"Town in {province}")
        confirm(letter_to([rep], campaign=campaign), django_capture_on_commit_callbacks)
        due[province] = mails_to(rep.email)[0].send_after

    assert due == {
        "NL": datetime(2026, 11, 9, 11, 30, tzinfo=UTC),
        "NS": datetime(2026, 11, 9, 12, 0, tzinfo=UTC),
        "ON": datetime(2026, 11, 9, 13, 0, tzinfo=UTC),
    }


def test_every_province_and_territory_has_its_zone():
    from councils.models import PROVINCE_TIME_ZONES

    assert set(PROVINCE_TIME_ZONES) == {
        *("BC", "AB", "SK", "MB", "ON", "QC", "NB", "NS", "PE", "NL", "YT", "NT", "NU")
    }
    zones = {
        datetime(2026, 1, 15, 12, tzinfo=UTC).astimezone(ZoneInfo(z)).utcoffset()
        for z in PROVINCE_TIME_ZONES.values()
    }
    # Newfoundland, Atlantic, Eastern, Central, Mountain, Pacific (and Yukon's own UTC-7).
    assert len(zones) >= 6


def test_a_campaign_without_office_hours_sends_at_night(clock, django_capture_on_commit_callbacks):
    (rep,) = council()
    clock.move_to(datetime(2026, 11, 8, 7, 0, tzinfo=UTC))  # Sunday 2:00 in Toronto
    confirm(letter_to([rep]), django_capture_on_commit_callbacks)

    assert mails_to(rep.email)[0].status == OutgoingMail.Status.SENT


# --- The status page ------------------------------------------------------------------------------


def test_the_status_page_says_when_a_paced_letter_is_due_to_go_out(
    clock, client, django_capture_on_commit_callbacks
):
    """In the council's own time: 8 a.m. in Halifax, which is 7 a.m. in Toronto."""
    (rep,) = council(province="NS", name="Halifax")
    campaign = CampaignFactory(office_hours_only=True)
    clock.move_to(datetime(2026, 11, 7, 17, 0, tzinfo=UTC))  # Saturday
    letter = confirm(letter_to([rep], campaign=campaign), django_capture_on_commit_callbacks)
    due = letter.deliveries.get().mail.send_after

    content = client.get(f"/letters/{letter.token}/").content.decode()

    with translation.override("en"):
        when = long_datetime(timezone.localtime(due, ZoneInfo("America/Halifax")))
    assert when == "Nov. 9, 2026, 8 a.m."
    assert f"Due to go out {when}" in content
    assert "in the council&#x27;s office hours" in content or "in the council's office hours" in (
        content
    )


def test_the_status_page_shows_a_letter_sent_once_its_time_came(
    clock, client, django_capture_on_commit_callbacks
):
    (rep,) = council()
    confirm(letter_to([rep]), django_capture_on_commit_callbacks)
    letter = confirm(letter_to([rep], first_name="Bob"), django_capture_on_commit_callbacks)
    assert "Due to go out" in client.get(f"/letters/{letter.token}/").content.decode()

    clock.move_to(MONDAY + INTERVAL)
    mails_send_due()

    content = client.get(f"/letters/{letter.token}/").content.decode()
    assert "Due to go out" not in content
    assert letter.deliveries.get().status == Delivery.Status.SENT


def test_a_worker_holding_a_later_letter_lets_the_first_confirmed_go_first(
    clock, django_capture_on_commit_callbacks, mailoutbox
):
    """Two workers each hold a due email to one councillor (a task for the second letter, the
    sweep for the first): whichever asks first, the first confirmed goes first."""
    (rep,) = council()
    with django_capture_on_commit_callbacks(execute=False):
        letter_queue(letter=letter_to([rep], first_name="Ann"))
        letter_queue(letter=letter_to([rep], first_name="Bob"))
    ann, bob = mails_to(rep.email)
    clock.move_to(MONDAY + timedelta(minutes=10))  # both due

    assert mails_send(mail_ids=[bob.pk]) == 0

    bob.refresh_from_db()
    assert bob.status == OutgoingMail.Status.QUEUED
    assert bob.send_after == MONDAY + timedelta(minutes=10) + INTERVAL
    assert mails_send(mail_ids=[ann.pk]) == 1
    assert [m.letter.first_name for m in mails_to(rep.email) if m.status == "sent"] == ["Ann"]
