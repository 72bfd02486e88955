"""The daily digest per councillor and the clerk's correspondence (letters.bundles): the day's
letters, each once, each keeping its own delivery row; and only letters whose writers agreed
to publication go to the clerk, with the wording they agreed to stored."""

from datetime import UTC, datetime, timedelta
from email.utils import parseaddr
from html import unescape

import pytest
import time_machine

from campaigns.models import Campaign
from letters.bundles import bundles_build
from letters.models import Delivery, Letter, OutgoingMail
from letters.sending import mails_send_due
from letters.services import letter_delete_request
from tests.factories import CampaignFactory, WardFactory
from tests.letters.council_helpers import confirm, council, letter_to, received_by

pytestmark = pytest.mark.django_db

# Monday 2 November 2026: letters come in during the day; the digest is built Tuesday at 7:00
# in Toronto (DIGEST_HOUR), 12:00 UTC.
MONDAY = datetime(2026, 11, 2, 15, 0, tzinfo=UTC)
TUESDAY_7AM = datetime(2026, 11, 3, 12, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def unpaced(settings):
    settings.LETTERS_PER_RECIPIENT_HOUR = 3_600_000


@pytest.fixture
def clock():
    with time_machine.travel(MONDAY, tick=False) as traveller:
        yield traveller


@pytest.fixture
def digest_campaign():
    return CampaignFactory(
        schedule=Campaign.Schedule.DAILY_DIGEST, title_en="Say NO to facial recognition"
    )


@pytest.fixture
def ottawa():
    """Ottawa's council: Cora for ward A, Carl for ward B."""
    reps = council(2, name="Ottawa")
    ward_a = WardFactory(municipality=reps[0].municipality, name="Kitchissippi")
    ward_b = WardFactory(municipality=reps[0].municipality, name="Rideau")
    reps[0].ward, reps[1].ward = ward_a, ward_b
    reps[0].name, reps[1].name = "Cora Councillor", "Carl Councillor"
    for rep in reps:
        rep.save()
    return reps, ward_a, ward_b


def write_day(campaign, reps, ward_a, ward_b, capture, clock) -> list[Letter]:
    """Three residents write on Monday: two of ward A, one of ward B."""
    letters = []
    for n, (first, postal, ward) in enumerate(
        [("Ann", "K1Y 4A1", ward_a), ("Bob", "K1Z 7B2", ward_a), ("Cat", "K1N 5C3", ward_b)]
    ):
        clock.move_to(MONDAY + timedelta(hours=n))
        letters.append(
            confirm(
                letter_to(
                    reps,
                    campaign=campaign,
                    first_name=first,
                    last_name="Writer",
                    postal_code=postal,
                    ward=ward,
                ),
                capture,
            )
        )
    return letters


# --- The digest -----------------------------------------------------------------------------------


def test_a_digest_campaign_sends_nothing_to_council_until_the_day_is_over(
    clock, digest_campaign, ottawa, django_capture_on_commit_callbacks, mailoutbox
):
    reps, ward_a, ward_b = ottawa
    letters = write_day(
        digest_campaign, reps, ward_a, ward_b, django_capture_on_commit_callbacks, clock
    )

    assert all(received_by(rep.email) == [] for rep in reps)
    for letter in letters:
        assert set(letter.deliveries.values_list("status", flat=True)) == {Delivery.Status.QUEUED}
        assert not letter.deliveries.filter(mail__isnull=False).exists()


def test_each_councillor_gets_one_email_with_the_days_letters_each_once(
    clock, digest_campaign, ottawa, django_capture_on_commit_callbacks, mailoutbox
):
    reps, ward_a, ward_b = ottawa
    letters = write_day(
        digest_campaign, reps, ward_a, ward_b, django_capture_on_commit_callbacks, clock
    )
    clock.move_to(TUESDAY_7AM)

    assert bundles_build() == 2
    mails_send_due()

    for rep in reps:
        (digest,) = received_by(rep.email)
        for letter in letters:
            assert digest.body.count(letter.body) == 1
            assert digest.body.count(f"{letter.first_name} Writer ({letter.postal_code[:3]})") == 1
            assert digest.body.count(f"Reply to: {letter.email}") == 1
            html = digest.alternatives[0][0]
            assert letter.first_name in html
        # No full postal code: only its first three characters.
        assert "K1Y 4A1" not in digest.body and "K1Y" in digest.body
    (cora,) = received_by(reps[0].email)
    (carl,) = received_by(reps[1].email)
    assert cora.subject == "3 residents of Ottawa wrote about Say NO to facial recognition"
    assert (
        "3 residents of Ottawa (2 in your ward) wrote to you today about "
        "Say NO to facial recognition." in " ".join(cora.body.split())
    )
    assert "3 residents of Ottawa (1 in your ward)" in " ".join(carl.body.split())
    assert cora.body.index("Ann Writer") < cora.body.index("Bob Writer") < cora.body.index("Cat")


def test_each_letter_keeps_its_own_delivery_row_in_the_digest(
    clock, digest_campaign, ottawa, django_capture_on_commit_callbacks, mailoutbox
):
    reps, ward_a, ward_b = ottawa
    letters = write_day(
        digest_campaign, reps, ward_a, ward_b, django_capture_on_commit_callbacks, clock
    )
    clock.move_to(TUESDAY_7AM)
    bundles_build()

    digests = OutgoingMail.objects.filter(kind=OutgoingMail.Kind.DIGEST)
    assert digests.count() == 2
    for digest in digests:
        assert digest.deliveries.count() == 3
        assert {d.letter_id for d in digest.deliveries.all()} == {letter.pk for letter in letters}
    mails_send_due()
    assert Delivery.objects.filter(status=Delivery.Status.SENT).count() == 6
    # One delivery fails alone: the others of its digest stay sent.
    one = letters[0].deliveries.get(representative=reps[0])
    Delivery.objects.filter(pk=one.pk).update(status=Delivery.Status.BOUNCED)
    assert letters[1].deliveries.get(representative=reps[0]).status == Delivery.Status.SENT


def test_the_next_days_digest_holds_only_the_new_letter(
    clock, digest_campaign, ottawa, django_capture_on_commit_callbacks, mailoutbox
):
    reps, ward_a, ward_b = ottawa
    write_day(digest_campaign, reps, ward_a, ward_b, django_capture_on_commit_callbacks, clock)
    clock.move_to(TUESDAY_7AM)
    bundles_build()
    mails_send_due()
    clock.move_to(TUESDAY_7AM + timedelta(hours=3))
    confirm(
        letter_to(reps, campaign=digest_campaign, first_name="Dan", ward=ward_a),
        django_capture_on_commit_callbacks,
    )

    clock.move_to(TUESDAY_7AM + timedelta(days=1))
    assert bundles_build() == 2
    assert bundles_build() == 0  # run twice (beat and a retry): nothing more
    mails_send_due()

    for rep in reps:
        first, second = received_by(rep.email)
        assert "Dan" not in first.body
        assert "Dan Resident" in second.body
        assert all(name not in second.body for name in ("Ann", "Bob", "Cat"))
        assert "1 resident of Ottawa" in second.subject
    assert Delivery.objects.filter(status=Delivery.Status.SENT).count() == 8


def test_the_status_page_says_which_digest_to_the_councillor_the_letter_is_in(
    clock, client, digest_campaign, ottawa, django_capture_on_commit_callbacks
):
    reps, ward_a, _ward_b = ottawa
    letter = confirm(
        letter_to(reps, campaign=digest_campaign, ward=ward_a), django_capture_on_commit_callbacks
    )

    # Monday 10:00 in Toronto: today's digest was made at 7:00, so the letter is in Tuesday's.
    content = unescape(client.get(f"/letters/{letter.token}/").content.decode())
    assert "In tomorrow's digest to Cora Councillor" in content
    assert "In tomorrow's digest to Carl Councillor" in content
    clock.move_to(TUESDAY_7AM - timedelta(hours=1))
    content = unescape(client.get(f"/letters/{letter.token}/").content.decode())
    assert "In today's digest to Cora Councillor" in content

    clock.move_to(TUESDAY_7AM)
    bundles_build()  # built, not sent yet: still in today's digest
    content = unescape(client.get(f"/letters/{letter.token}/").content.decode())
    assert "In today's digest to Cora Councillor" in content

    mails_send_due()
    content = unescape(client.get(f"/letters/{letter.token}/").content.decode())
    assert "digest to" not in content
    assert set(letter.deliveries.values_list("status", flat=True)) == {Delivery.Status.SENT}


def test_a_digest_waits_for_office_hours_in_the_councils_zone(
    clock, ottawa, django_capture_on_commit_callbacks, mailoutbox
):
    campaign = CampaignFactory(schedule=Campaign.Schedule.DAILY_DIGEST, office_hours_only=True)
    reps = council(1, name="Vancouver", province="BC")
    confirm(letter_to(reps, campaign=campaign), django_capture_on_commit_callbacks)
    clock.move_to(TUESDAY_7AM)  # 4:00 in Vancouver

    bundles_build()

    (digest,) = OutgoingMail.objects.filter(kind=OutgoingMail.Kind.DIGEST)
    assert digest.send_after == datetime(2026, 11, 3, 16, 0, tzinfo=UTC)  # 8:00 in Vancouver
    assert mails_send_due() == 0


# Friday 6 November 2026 to Monday 9 November, each at 7:00 in Toronto (DIGEST_HOUR).
FRIDAY_7AM = datetime(2026, 11, 6, 12, 0, tzinfo=UTC)
DAYS_7AM = [FRIDAY_7AM + timedelta(days=n) for n in range(4)]  # Fri, Sat, Sun, Mon


def test_an_office_hours_digest_is_not_made_on_a_weekend_so_monday_brings_one(
    clock, django_capture_on_commit_callbacks, mailoutbox
):
    office = CampaignFactory(schedule=Campaign.Schedule.DAILY_DIGEST, office_hours_only=True)
    any_day = CampaignFactory(schedule=Campaign.Schedule.DAILY_DIGEST)
    (rep,) = council(1, name="Barrie")
    made = {}
    for day in DAYS_7AM:
        # A letter of each campaign the evening before each build.
        clock.move_to(day - timedelta(hours=12))
        for campaign in (office, any_day):
            writer = f"{day:%a}.{campaign.pk}@example.net"
            confirm(
                letter_to([rep], campaign=campaign, email=writer),
                django_capture_on_commit_callbacks,
            )
        clock.move_to(day)
        bundles_build()
        made[f"{day:%a}"] = sorted(
            (mail.campaign_id == office.pk, mail.deliveries.count())
            for mail in OutgoingMail.objects.filter(kind=OutgoingMail.Kind.DIGEST, created_at=day)
        )

    # (office hours?, letters in it): the office-hours campaign skips Saturday and Sunday, and
    # Monday's digest carries the three letters they held; the other makes one every day.
    assert made == {
        "Fri": [(False, 1), (True, 1)],
        "Sat": [(False, 1)],
        "Sun": [(False, 1)],
        "Mon": [(False, 1), (True, 3)],
    }


def test_no_office_hours_digest_is_made_on_a_public_holiday_of_the_councils_province(
    clock, django_capture_on_commit_callbacks, mailoutbox
):
    campaign = CampaignFactory(schedule=Campaign.Schedule.DAILY_DIGEST, office_hours_only=True)
    quebec, ontario = council(1, name="Gatineau", province="QC"), council(1, name="Ottawa")
    clock.move_to(datetime(2026, 6, 23, 20, 0, tzinfo=UTC))
    for reps in (quebec, ontario):
        confirm(letter_to(reps, campaign=campaign), django_capture_on_commit_callbacks)

    clock.move_to(datetime(2026, 6, 24, 11, 0, tzinfo=UTC))  # 7:00, la Fête nationale
    assert bundles_build() == 1  # Ottawa's; Gatineau's offices are closed
    clock.move_to(datetime(2026, 6, 25, 11, 0, tzinfo=UTC))
    assert bundles_build() == 1  # Gatineau's, a day later

    digests = OutgoingMail.objects.filter(kind=OutgoingMail.Kind.DIGEST).order_by("pk")
    assert [d.deliveries.get().letter.municipality.name for d in digests] == ["Ottawa", "Gatineau"]


def test_the_status_page_names_the_day_of_an_office_hours_digest_after_a_weekend(
    clock, client, django_capture_on_commit_callbacks
):
    campaign = CampaignFactory(schedule=Campaign.Schedule.DAILY_DIGEST, office_hours_only=True)
    reps = council(1, name="Barrie")
    clock.move_to(FRIDAY_7AM + timedelta(hours=3))  # Friday 10:00 in Toronto
    letter = confirm(letter_to(reps, campaign=campaign), django_capture_on_commit_callbacks)

    content = unescape(client.get(f"/letters/{letter.token}/").content.decode())
    assert "In the digest of Nov. 9, 2026 to Rep 0 of Barrie" in content  # Monday's
    content = unescape(client.get(f"/fr/letters/{letter.token}/").content.decode())
    assert "Dans l'envoi groupé du 9 novembre 2026 à Rep 0 of Barrie" in content


def test_a_test_letter_never_goes_into_a_digest(
    clock, digest_campaign, ottawa, django_capture_on_commit_callbacks, mailoutbox
):
    reps, _ward_a, _ward_b = ottawa
    confirm(
        letter_to(reps, campaign=digest_campaign, is_test=True, email="organizer@example.org"),
        django_capture_on_commit_callbacks,
    )
    clock.move_to(TUESDAY_7AM)

    assert bundles_build() == 0
    assert all(received_by(rep.email) == [] for rep in reps)


def test_an_erased_letter_leaves_the_digest(
    clock, digest_campaign, ottawa, django_capture_on_commit_callbacks, mailoutbox
):
    reps, ward_a, ward_b = ottawa
    letters = write_day(
        digest_campaign, reps, ward_a, ward_b, django_capture_on_commit_callbacks, clock
    )
    with django_capture_on_commit_callbacks(execute=True):
        letter_delete_request(letter=letters[1])
    clock.move_to(TUESDAY_7AM)
    bundles_build()
    mails_send_due()

    (digest,) = received_by(reps[0].email)
    assert "Bob" not in digest.body
    assert "2 residents of Ottawa" in digest.subject


# --- The clerk ------------------------------------------------------------------------------------


@pytest.fixture
def clerk_council():
    reps = council(1, name="Barrie", clerk_email="clerk@barrie.example.ca")
    return reps


def clerk_campaign(mode: str, **fields) -> Campaign:
    return CampaignFactory(
        clerk_mode=mode,
        clerk_agenda_item="Item 8.2: Facial recognition by police",
        **fields,
    )


def test_each_consenting_letter_goes_to_the_clerk_with_the_agenda_item(
    clerk_council, django_capture_on_commit_callbacks, mailoutbox
):
    campaign = clerk_campaign(Campaign.ClerkMode.EACH)
    consenting = confirm(
        letter_to(clerk_council, campaign=campaign, publication_consent=True),
        django_capture_on_commit_callbacks,
    )
    private = confirm(
        letter_to(clerk_council, campaign=campaign, first_name="Paul"),
        django_capture_on_commit_callbacks,
    )

    (filed,) = received_by("clerk@barrie.example.ca")
    assert "Item 8.2: Facial recognition by police" in filed.body
    assert "agreed to the publication of their letter" in filed.body
    assert consenting.body in filed.body
    assert [parseaddr(a)[1] for a in filed.reply_to] == ["jane.resident@example.net"]
    assert consenting.deliveries.filter(to_clerk=True, status=Delivery.Status.SENT).exists()
    assert not private.deliveries.filter(to_clerk=True).exists()
    # Both still went to their councillor.
    assert len(received_by(clerk_council[0].email)) == 2


def test_the_clerks_daily_bundle_holds_the_days_consenting_letters(
    clerk_council, django_capture_on_commit_callbacks, mailoutbox
):
    campaign = clerk_campaign(Campaign.ClerkMode.DAILY)
    for name in ("Ann", "Bob"):
        confirm(
            letter_to(clerk_council, campaign=campaign, first_name=name, publication_consent=True),
            django_capture_on_commit_callbacks,
        )
    confirm(
        letter_to(clerk_council, campaign=campaign, first_name="Cat"),
        django_capture_on_commit_callbacks,
    )
    assert received_by("clerk@barrie.example.ca") == []

    assert bundles_build() == 1
    mails_send_due()

    (bundle,) = received_by("clerk@barrie.example.ca")
    assert "Please file the following 2 letters" in " ".join(bundle.body.split())
    assert "Item 8.2" in bundle.body
    assert "Ann Resident, K1A 0B1" in bundle.body and "Bob Resident" in bundle.body
    assert "Cat" not in bundle.body
    clerk_rows = Delivery.objects.filter(to_clerk=True)
    assert clerk_rows.count() == 2
    assert {d.status for d in clerk_rows} == {Delivery.Status.SENT}
    assert len({d.mail_id for d in clerk_rows}) == 1


def test_letters_confirmed_after_the_deadline_do_not_go_to_the_clerk(
    clerk_council, django_capture_on_commit_callbacks, mailoutbox
):
    deadline = datetime(2026, 11, 2, 17, 0, tzinfo=UTC)
    campaign = clerk_campaign(Campaign.ClerkMode.EACH, clerk_deadline=deadline)
    with time_machine.travel(deadline - timedelta(minutes=1), tick=False):
        confirm(
            letter_to(clerk_council, campaign=campaign, publication_consent=True),
            django_capture_on_commit_callbacks,
        )
    with time_machine.travel(deadline + timedelta(minutes=1), tick=False):
        late = confirm(
            letter_to(
                clerk_council, campaign=campaign, first_name="Paul", publication_consent=True
            ),
            django_capture_on_commit_callbacks,
        )

    assert len(received_by("clerk@barrie.example.ca")) == 1
    assert not late.deliveries.filter(to_clerk=True).exists()


def test_letters_confirmed_on_the_deadline_day_reach_the_clerk_before_the_deadline(
    clerk_council, django_capture_on_commit_callbacks, mailoutbox
):
    # Correspondence is due Monday 2 November at noon in Barrie (17:00 UTC).
    deadline = datetime(2026, 11, 2, 17, 0, tzinfo=UTC)
    campaign = clerk_campaign(Campaign.ClerkMode.DAILY, clerk_deadline=deadline)
    later = clerk_campaign(Campaign.ClerkMode.DAILY, clerk_deadline=deadline + timedelta(days=7))
    with time_machine.travel(deadline - timedelta(hours=3), tick=False):  # 9:00
        for each in (campaign, later):
            confirm(
                letter_to(clerk_council, campaign=each, publication_consent=True),
                django_capture_on_commit_callbacks,
            )
    with time_machine.travel(deadline - timedelta(hours=2), tick=False):
        assert bundles_build(before_deadline=True) == 0  # not yet: more letters may come

    with time_machine.travel(deadline - timedelta(minutes=50), tick=False):
        assert bundles_build(before_deadline=True) == 1
        mails_send_due()

    (bundle,) = received_by("clerk@barrie.example.ca")
    assert "Item 8.2" in bundle.body
    filed = Delivery.objects.get(to_clerk=True, letter__campaign=campaign)
    assert filed.status == Delivery.Status.SENT and filed.sent_at < deadline
    # The other campaign's letter waits for its own day's bundle; no councillor's digest moved.
    assert Delivery.objects.get(to_clerk=True, letter__campaign=later).mail is None
    with time_machine.travel(deadline + timedelta(minutes=1), tick=False):
        assert bundles_build(before_deadline=True) == 0


def test_a_council_without_a_clerk_address_gets_no_correspondence(
    django_capture_on_commit_callbacks, mailoutbox
):
    reps = council(1, name="Orillia")
    campaign = clerk_campaign(Campaign.ClerkMode.EACH)
    letter = confirm(
        letter_to(reps, campaign=campaign, publication_consent=True),
        django_capture_on_commit_callbacks,
    )

    assert not letter.deliveries.filter(to_clerk=True).exists()
    assert len(mailoutbox) == 1
