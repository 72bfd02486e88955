# ruff: noqa: F811  (pytest fixtures imported from journey_helpers)
"""Letters to councils with no contacts yet, and after an election: held at confirmation,
counted, and sent once the council's contacts are imported (letters.services)."""

from datetime import date, datetime, timedelta
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.conf import settings
from django.core import mail
from django.core.management import call_command
from django.utils import timezone

from campaigns.models import Campaign
from councils.models import Role
from letters import jobs, services
from letters.models import Delivery, Letter, OutgoingMail, election_since_roster_check
from letters.selectors import letter_counts
from tests.factories import MunicipalityFactory, RepresentativeFactory
from tests.letters.held_helpers import (
    WEBSITE,
    confirm,
    import_roster,
    mails_of,
    no_contacts_council,
    outbox_to,
    submit,
)
from tests.letters.journey_helpers import campaign, journey_settings  # noqa: F401

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("journey_settings")]

TORONTO = ZoneInfo("America/Toronto")
NEW_COUNCIL = (
    ("Nadia New", "nadia@regina.example.org", Role.MAYOR),
    ("Ned Newcomer", "ned@regina.example.org", Role.COUNCILLOR),
)


def release(capture) -> int:
    with capture(execute=True):
        return jobs.held_letters_release.delay().get()


# --- No contacts: the letter is counted, and held when its writer asks -------------------------


def test_a_letter_to_a_council_without_contacts_is_counted_and_held(
    campaign, django_capture_on_commit_callbacks
):
    regina = no_contacts_council()
    letter = submit(campaign, regina)
    assert letter.deliveries.count() == 0

    letter = confirm(letter, django_capture_on_commit_callbacks)

    assert letter.status == Letter.Status.CONFIRMED
    assert letter.held_since is not None
    assert letter.hold_reason == Letter.HoldReason.NO_CONTACTS
    assert letter.hold_stage() == "waiting"
    assert list(Letter.objects.held()) == [letter]
    campaign.refresh_from_db()
    assert campaign.letters_count == 1
    [row] = letter_counts(campaign=campaign, by="municipality")
    assert (row["name"], row["letters"], row["deliveries_sent"]) == ("Regina", 1, 0)
    # The writer is told, with the letter to copy and the council's website; no plain copy.
    assert [m.kind for m in letter.mails.order_by("pk")] == [
        OutgoingMail.Kind.CONFIRMATION,
        OutgoingMail.Kind.HELD,
    ]
    notice = mail.outbox[-1]
    assert notice.to == ['"Jane Doe" <jane@example.org>']
    assert notice.subject == "Your letter to the council of Regina is waiting"
    assert "as you asked, your letter waits until we add its contacts" in notice.body
    assert WEBSITE in notice.body
    assert "Cameras went up on my street." in notice.body
    html = notice.alternatives[0][0]
    assert f'href="{WEBSITE}"' in html and "Cameras went up on my street." in html


def test_the_hold_consent_is_stored_with_its_wording_language_and_time(campaign):
    regina = no_contacts_council()
    before = timezone.now()

    letter = submit(campaign, regina, language="fr")

    assert letter.hold_consent is True
    assert letter.hold_consent_language == "fr"
    assert before <= letter.hold_consent_at <= timezone.now()
    assert letter.hold_consent_text == services.hold_consent_text(campaign=campaign, language="fr")
    english = services.hold_consent_text(campaign=campaign, language="en")
    assert english == (
        "Send my letter when you add my council. Privacy Org will send your letter to the "
        "council once its contacts are added, and email you when it goes out."
    )


def test_without_the_hold_option_the_copy_says_how_to_send_it_yourself(
    campaign, django_capture_on_commit_callbacks
):
    regina = no_contacts_council()
    letter = confirm(submit(campaign, regina, hold=False), django_capture_on_commit_callbacks)

    assert (letter.hold_consent, letter.hold_consent_text, letter.hold_consent_at) == (
        False,
        "",
        None,
    )
    assert letter.held_since is None and letter.hold_stage() == ""
    campaign.refresh_from_db()
    assert campaign.letters_count == 1
    copy = mail.outbox[-1]
    assert copy.subject.startswith("Your copy: ")
    assert "We have no email address for the council of Regina yet" in copy.body
    assert f"The council's website: {WEBSITE}" in copy.body
    assert "Cameras went up on my street." in copy.body
    assert f'<a href="{WEBSITE}">' in copy.alternatives[0][0]

    import_roster(regina, *NEW_COUNCIL)
    assert release(django_capture_on_commit_callbacks) == 0  # never asked to be sent later


def test_the_hold_option_is_ignored_where_someone_can_be_emailed(campaign):
    council = MunicipalityFactory(name="Ottawa")
    mayor = RepresentativeFactory(municipality=council, role=Role.MAYOR, email="m@x.example.org")

    letter = submit(campaign, council, hold=True, representatives=[mayor])

    assert (letter.hold_consent, letter.hold_consent_text) == (False, "")


def test_a_held_letter_goes_out_once_the_councils_contacts_are_imported(
    campaign, django_capture_on_commit_callbacks
):
    regina = no_contacts_council()
    letter = confirm(submit(campaign, regina), django_capture_on_commit_callbacks)
    mail.outbox = []
    assert release(django_capture_on_commit_callbacks) == 0  # nobody to email yet

    import_roster(regina, *NEW_COUNCIL)
    RepresentativeFactory(municipality=regina, name="Pat Phone", email="", phone="306-555-0100")
    assert release(django_capture_on_commit_callbacks) == 1

    letter.refresh_from_db()
    assert letter.released_at is not None and letter.hold_stage() == "sent"
    assert not Letter.objects.held().exists()
    statuses = {d.recipient_name: d.status for d in letter.deliveries.all()}
    assert statuses == {
        "Nadia New": Delivery.Status.SENT,
        "Ned Newcomer": Delivery.Status.SENT,
        "Pat Phone": Delivery.Status.NO_EMAIL,
    }
    assert len(outbox_to(mail.outbox, "nadia@regina.example.org")) == 1
    assert len(outbox_to(mail.outbox, "ned@regina.example.org")) == 1
    [notice] = outbox_to(mail.outbox, "jane@example.org")
    assert notice.subject == "Your letter went to the council of Regina"
    assert "has now been sent" in notice.body
    assert "Nadia New, Mayor" in notice.body
    assert "Pat Phone" in notice.body and "no email address" in notice.body
    assert [m.kind for m in mails_of(letter, OutgoingMail.Kind.RELEASED)] == ["released"]
    assert mails_of(letter, OutgoingMail.Kind.COPY) == []
    campaign.refresh_from_db()
    assert campaign.letters_count == 1  # counted once, at confirmation

    # The next run finds nothing: a letter goes out once.
    assert release(django_capture_on_commit_callbacks) == 0
    assert letter.deliveries.count() == 3


def test_a_held_letter_waits_for_a_roster_checked_after_it_was_held(
    campaign, django_capture_on_commit_callbacks
):
    regina = no_contacts_council()
    earlier = timezone.now() - timedelta(days=3)
    letter = confirm(submit(campaign, regina), django_capture_on_commit_callbacks)

    # Contacts entered by hand, the roster's check older than the letter's hold...
    import_roster(regina, *NEW_COUNCIL, checked_at=earlier)
    assert release(django_capture_on_commit_callbacks) == 0
    # ... or never checked at all.
    regina.roster_checked_at = None
    regina.save()
    assert release(django_capture_on_commit_callbacks) == 0
    letter.refresh_from_db()
    assert letter.hold_stage() == "waiting" and letter.deliveries.count() == 0

    regina.roster_checked_at = timezone.now()
    regina.save()
    assert release(django_capture_on_commit_callbacks) == 1


def test_a_roster_with_nobody_to_email_keeps_the_letter_waiting(
    campaign, django_capture_on_commit_callbacks
):
    regina = no_contacts_council()
    letter = confirm(submit(campaign, regina), django_capture_on_commit_callbacks)

    import_roster(regina, ("Pat Phone", "", Role.MAYOR))

    assert release(django_capture_on_commit_callbacks) == 0
    letter.refresh_from_db()
    assert letter.hold_stage() == "waiting"


def test_a_held_letter_is_not_sent_once_the_campaign_closed(
    campaign, django_capture_on_commit_callbacks
):
    regina = no_contacts_council()
    letter = confirm(submit(campaign, regina), django_capture_on_commit_callbacks)
    campaign.status = Campaign.Status.CLOSED
    campaign.save()
    import_roster(regina, *NEW_COUNCIL)

    assert release(django_capture_on_commit_callbacks) == 0
    letter.refresh_from_db()
    assert letter.hold_stage() == "closed"
    assert services.letter_release(letter=letter) is False
    assert letter.deliveries.count() == 0


def test_erasing_a_held_letter_means_it_is_never_sent(campaign, django_capture_on_commit_callbacks):
    regina = no_contacts_council()
    letter = confirm(submit(campaign, regina), django_capture_on_commit_callbacks)

    with django_capture_on_commit_callbacks(execute=True):
        services.letter_delete_request(letter=letter)
    import_roster(regina, *NEW_COUNCIL)
    mail.outbox = []

    assert release(django_capture_on_commit_callbacks) == 0
    assert services.letter_release(letter=letter) is False
    letter.refresh_from_db()
    assert letter.hold_stage() == "erased"
    assert (letter.email, letter.body, letter.released_at) == ("", "", None)
    assert not Letter.objects.held().exists()
    assert letter.deliveries.count() == 0
    assert mail.outbox == []
    campaign.refresh_from_db()
    assert campaign.letters_count == 1  # counts survive erasure


def test_an_unconfirmed_letter_is_not_held_and_never_released(
    campaign, django_capture_on_commit_callbacks
):
    regina = no_contacts_council()
    letter = submit(campaign, regina)
    import_roster(regina, *NEW_COUNCIL)

    assert release(django_capture_on_commit_callbacks) == 0
    letter.refresh_from_db()
    assert letter.held_since is None and letter.deliveries.count() == 0


def test_a_letter_confirmed_at_once_is_held_at_once(campaign, django_capture_on_commit_callbacks):
    campaign.requires_confirmation = False
    campaign.save()
    with django_capture_on_commit_callbacks(execute=True):
        letter = submit(campaign, no_contacts_council())
    letter.refresh_from_db()
    assert letter.hold_reason == Letter.HoldReason.NO_CONTACTS
    assert [m.subject for m in mail.outbox] == ["Your letter to the council of Regina is waiting"]


# --- After an election: the letter waits for the new council ------------------------------------


def kingston_council(*, election, checked):
    kingston = MunicipalityFactory(
        name="Kingston", province="ON", election_date=election, roster_checked_at=checked
    )
    old = [
        RepresentativeFactory(
            municipality=kingston, name="Olga Old", email="olga@kingston.example.org", role="mayor"
        ),
        RepresentativeFactory(
            municipality=kingston, name="Oscar Old", email="oscar@kingston.example.org"
        ),
    ]
    return kingston, old


def test_an_election_hold_releases_the_letter_to_the_new_council_only(
    campaign, django_capture_on_commit_callbacks
):
    election = date(2026, 10, 26)
    with time_machine.travel(datetime(2026, 11, 2, 10, tzinfo=TORONTO), tick=False):
        kingston, old = kingston_council(
            election=election, checked=datetime(2026, 9, 1, 12, tzinfo=TORONTO)
        )
        letter = submit(campaign, kingston, representatives=old, postal_code="K7L 2V7")
        assert letter.deliveries.count() == 2
        letter = confirm(letter, django_capture_on_commit_callbacks)

    assert letter.hold_reason == Letter.HoldReason.ELECTION
    assert letter.held_for_election == election
    assert letter.hold_consent is False  # the campaign's rule, not the resident's choice
    assert letter.deliveries.count() == 0  # none to members who may have lost their seats
    held_notice = mail.outbox[-1]
    assert held_notice.subject == "Your letter to the council of Kingston is waiting"
    assert "waits for the new council after the election of Oct. 26, 2026" in held_notice.body
    assert "Oct. 26, 2026" in held_notice.alternatives[0][0]
    assert not outbox_to(mail.outbox, "kingston.example.org")

    # A week on, no new roster yet: the letter waits.
    with time_machine.travel(datetime(2026, 11, 9, 10, tzinfo=TORONTO), tick=False):
        assert release(django_capture_on_commit_callbacks) == 0

    # The new council's roster is imported (one old member re-elected, with a new address).
    with time_machine.travel(datetime(2026, 11, 20, 10, tzinfo=TORONTO), tick=False):
        import_roster(
            kingston,
            ("Nadia New", "nadia@kingston.example.org", Role.MAYOR),
            ("Oscar Old", "oscar.old@kingston.example.org", Role.COUNCILLOR),
        )
        assert release(django_capture_on_commit_callbacks) == 1

    letter.refresh_from_db()
    assert letter.released_at == datetime(2026, 11, 20, 10, tzinfo=TORONTO)
    recipients = {(d.recipient_name, d.recipient_email, d.status) for d in letter.deliveries.all()}
    assert recipients == {
        ("Nadia New", "nadia@kingston.example.org", Delivery.Status.SENT),
        ("Oscar Old", "oscar.old@kingston.example.org", Delivery.Status.SENT),
    }
    sent_to = {to for message in mail.outbox for to in message.to}
    assert not any("olga@" in to or "oscar@kingston" in to for to in sent_to)
    # Told both times.
    to_resident = outbox_to(mail.outbox, "jane@example.org")
    assert [m.subject for m in to_resident][-2:] == [
        "Your letter to the council of Kingston is waiting",
        "Your letter went to the council of Kingston",
    ]
    assert "Nadia New, Mayor" in to_resident[-1].body


def test_a_campaign_that_does_not_hold_after_elections_writes_to_the_roster_it_has(
    campaign, django_capture_on_commit_callbacks
):
    campaign.hold_after_election = False
    campaign.save()
    kingston, old = kingston_council(
        election=timezone.localdate() - timedelta(days=10),
        checked=timezone.now() - timedelta(days=60),
    )

    letter = confirm(
        submit(campaign, kingston, representatives=old), django_capture_on_commit_callbacks
    )

    assert letter.held_since is None
    assert {d.status for d in letter.deliveries.all()} == {Delivery.Status.SENT}


def test_a_roster_checked_since_the_election_is_written_to_at_once(
    campaign, django_capture_on_commit_callbacks
):
    kingston, old = kingston_council(
        election=timezone.localdate() - timedelta(days=10),
        checked=timezone.now() - timedelta(days=2),
    )

    letter = confirm(
        submit(campaign, kingston, representatives=old), django_capture_on_commit_callbacks
    )

    assert letter.held_since is None
    assert letter.deliveries.filter(status=Delivery.Status.SENT).count() == 2


def test_an_election_still_to_come_holds_nothing(campaign, django_capture_on_commit_callbacks):
    kingston, old = kingston_council(
        election=timezone.localdate() + timedelta(days=10),
        checked=timezone.now() - timedelta(days=200),
    )

    letter = confirm(
        submit(campaign, kingston, representatives=old), django_capture_on_commit_callbacks
    )

    assert letter.held_since is None


@pytest.mark.parametrize(
    ("now", "checked", "held"),
    [
        # The election day in the municipality's own time zone holds letters from its start.
        (datetime(2026, 10, 26, 23, tzinfo=ZoneInfo("America/Vancouver")), None, True),
        (datetime(2026, 10, 25, 23, tzinfo=ZoneInfo("America/Vancouver")), None, False),
        # A roster checked on election day counts as checked after it.
        (
            datetime(2026, 11, 2, tzinfo=TORONTO),
            datetime(2026, 10, 26, 22, tzinfo=ZoneInfo("America/Vancouver")),
            False,
        ),
        (
            datetime(2026, 11, 2, tzinfo=TORONTO),
            datetime(2026, 10, 25, 12, tzinfo=ZoneInfo("America/Vancouver")),
            True,
        ),
    ],
)
def test_the_election_rule_reads_dates_in_the_municipalitys_time_zone(now, checked, held):
    vancouver = MunicipalityFactory(
        province="BC", election_date=date(2026, 10, 26), roster_checked_at=checked
    )
    found = election_since_roster_check(vancouver, now=now)
    assert found == (date(2026, 10, 26) if held else None)


def test_test_letters_are_never_held(campaign, staff_user, django_capture_on_commit_callbacks):
    kingston, _old = kingston_council(
        election=timezone.localdate() - timedelta(days=10),
        checked=timezone.now() - timedelta(days=60),
    )
    with django_capture_on_commit_callbacks(execute=True):
        letter = services.letter_test_send(
            campaign=campaign, municipality=kingston, language="en", user=staff_user
        )
    letter.refresh_from_db()
    assert letter.held_since is None
    assert mail.outbox[-1].to == [staff_user.email]


# --- The beat's job and the command -----------------------------------------------------------


def test_beat_runs_the_release_every_few_minutes():
    from config.celery_app import app

    entry = settings.CELERY_BEAT_SCHEDULE["release-held-letters"]
    assert entry["task"] == jobs.held_letters_release.name
    assert entry["schedule"] == 600
    app.loader.import_default_modules()  # what a worker does at start (CELERY_IMPORTS)
    assert entry["task"] in app.tasks


def test_the_command_releases_held_letters(campaign, django_capture_on_commit_callbacks):
    regina = no_contacts_council()
    confirm(submit(campaign, regina), django_capture_on_commit_callbacks)
    import_roster(regina, *NEW_COUNCIL)
    out = StringIO()

    with django_capture_on_commit_callbacks(execute=True):
        call_command("release_held_letters", stdout=out)

    assert out.getvalue() == "Sent 1 held letter(s).\n"
