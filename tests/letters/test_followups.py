"""'Did council reply?': one email per letter, followup_days after it reached council, only
to writers who asked, through the outgoing mail (send_followups, the beat's task)."""

import re
from datetime import timedelta
from io import StringIO

import pytest
import time_machine
from django.conf import settings as django_settings
from django.core import mail
from django.core.management import call_command

from letters import services, tasks
from letters.followups import followups_create
from letters.models import Delivery, Letter, OutgoingMail
from tests.factories import CampaignFactory
from tests.letters.followup_helpers import SENT_AT, council_of, sent_letter

pytestmark = pytest.mark.django_db

DAY = timedelta(days=1)


@pytest.fixture(autouse=True)
def _site(settings):
    settings.SITE_URL = "https://letters.example.org"


@pytest.fixture
def campaign():
    return CampaignFactory(slug="cams", followup_days=14)


@pytest.fixture
def council():
    return council_of("Ottawa", ["Mara Mayor", "Cora Councillor"])


def run_command() -> str:
    out = StringIO()
    call_command("send_followups", stdout=out)
    return out.getvalue()


def followups_to(address: str) -> list:
    return [message for message in mail.outbox if message.to == [address]]


def test_it_asks_once_followup_days_after_the_letter_went_out(campaign, council):
    letter = sent_letter(campaign, *council)

    with time_machine.travel(SENT_AT + 14 * DAY - timedelta(minutes=1), tick=False):
        assert "Made 0 follow-up emails" in run_command()
    assert mail.outbox == []

    with time_machine.travel(SENT_AT + 14 * DAY, tick=False):
        assert "Made 1 follow-up emails; sent 1 due emails" in run_command()
    with time_machine.travel(SENT_AT + 15 * DAY, tick=False):
        assert "Made 0 follow-up emails" in run_command()

    assert len(followups_to(letter.email)) == 1
    letter.refresh_from_db()
    assert letter.followup_sent_at == SENT_AT + 14 * DAY


def test_it_asks_only_writers_who_opted_in(campaign, council):
    asked = sent_letter(campaign, *council, followup=True)
    sent_letter(campaign, *council, followup=False)

    with time_machine.travel(SENT_AT + 20 * DAY, tick=False):
        run_command()

    assert [message.to for message in mail.outbox] == [[asked.email]]


@pytest.mark.parametrize(
    "fields",
    [
        {"is_test": True},
        {"status": Letter.Status.PENDING_CONFIRMATION, "confirmed_at": None},
        {"status": Letter.Status.WITHDRAWN},
        {"status": Letter.Status.BLOCKED},
    ],
    ids=["test", "unconfirmed", "withdrawn", "blocked"],
)
def test_it_never_asks_about_test_or_unconfirmed_letters(campaign, council, fields):
    sent_letter(campaign, *council, **fields)

    with time_machine.travel(SENT_AT + 20 * DAY, tick=False):
        assert "Made 0 follow-up emails" in run_command()
    assert mail.outbox == []


def test_it_never_asks_about_an_erased_letter(campaign, council):
    letter = sent_letter(campaign, *council)
    services.letter_delete_request(letter=letter)
    mail.outbox = []

    with time_machine.travel(SENT_AT + 20 * DAY, tick=False):
        assert "Made 0 follow-up emails" in run_command()
    assert mail.outbox == []


def test_a_letter_erased_after_its_followup_was_made_gets_no_email(campaign, council):
    letter = sent_letter(campaign, *council)
    with time_machine.travel(SENT_AT + 20 * DAY, tick=False):
        assert followups_create() == 1
        services.letter_delete_request(letter=letter)
        mail.outbox = []
        call_command("requeue_deliveries", stdout=StringIO())

    # Only the notice that the data is erased went out.
    assert [message.to for message in mail.outbox] == [[letter.email]]
    assert "/reply/" not in mail.outbox[0].body
    followup = OutgoingMail.objects.get(letter=letter, kind=OutgoingMail.Kind.FOLLOWUP)
    assert followup.status == OutgoingMail.Status.CANCELLED


def test_it_waits_for_the_last_delivery_to_go_out(campaign, council):
    municipality, (mayor, councillor) = council
    letter = sent_letter(campaign, municipality, [mayor])
    late = sent_letter(campaign, municipality, [councillor]).deliveries.get()
    late.letter = letter
    late.sent_at = SENT_AT + 5 * DAY
    late.save()

    with time_machine.travel(SENT_AT + 14 * DAY, tick=False):
        assert followups_create() == 0
    with time_machine.travel(SENT_AT + 19 * DAY, tick=False):
        assert followups_create() == 1


def test_it_does_not_ask_before_anything_reached_a_councillor(campaign, council):
    municipality, reps = council
    sent_letter(campaign, municipality, reps, status=Delivery.Status.BOUNCED)
    # Only the clerk's copy went out: there is no councillor to ask about.
    sent_letter(campaign, municipality, [], clerk=True)

    with time_machine.travel(SENT_AT + 30 * DAY, tick=False):
        assert followups_create() == 0


def test_each_campaign_waits_its_own_days(council):
    quick = sent_letter(CampaignFactory(followup_days=3), *council)
    slow = sent_letter(CampaignFactory(followup_days=30), *council)

    with time_machine.travel(SENT_AT + 3 * DAY, tick=False):
        run_command()
    assert [message.to for message in mail.outbox] == [[quick.email]]
    with time_machine.travel(SENT_AT + 30 * DAY, tick=False):
        run_command()
    assert [message.to for message in mail.outbox] == [[quick.email], [slow.email]]


def test_the_email_goes_through_the_outgoing_mail_in_the_writers_language(campaign, council):
    letter = sent_letter(campaign, *council, language="fr")

    with time_machine.travel(SENT_AT + 14 * DAY, tick=False):
        run_command()

    followup = OutgoingMail.objects.get(letter=letter)
    assert followup.kind == OutgoingMail.Kind.FOLLOWUP
    assert followup.status == OutgoingMail.Status.SENT
    (message,) = mail.outbox
    assert message.extra_headers["Message-ID"] == followup.message_id
    html = message.alternatives[0][0]
    for outcome in ("replied", "no_reply", "unsatisfactory"):
        link = f"https://letters.example.org/fr/letters/{letter.token}/reply/?outcome={outcome}"
        assert link in message.body
        assert link in html
    assert "Ottawa" in message.subject
    assert letter.body not in message.body


def test_the_beat_asks_every_day_through_the_task(campaign, council):
    letter = sent_letter(campaign, *council)
    schedule = django_settings.CELERY_BEAT_SCHEDULE["send-followups"]
    assert schedule["task"] == "letters.tasks.followups_send"

    with time_machine.travel(SENT_AT + 14 * DAY, tick=False):
        assert tasks.followups_send.delay().get() == 1
        assert tasks.followups_send.delay().get() == 0

    assert OutgoingMail.objects.filter(letter=letter, kind="followup").count() == 1


def test_a_resident_who_ticked_the_box_is_asked_after_the_letter_went_out(
    campaign, council, django_capture_on_commit_callbacks
):
    municipality, reps = council
    campaign.requires_confirmation = False
    campaign.save()
    with (
        time_machine.travel(SENT_AT, tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        letter = services.letter_submit(
            campaign=campaign,
            municipality=municipality,
            representative_ids=[rep.pk for rep in reps],
            first_name="Jane",
            last_name="Doe",
            email="jane@example.net",
            postal_code="K1A 0B1",
            language="en",
            send_copy=False,
            followup_consent=True,
        )
    letter.refresh_from_db()
    assert letter.followup_consent_text == "Ask me in two weeks whether council replied"
    assert letter.followup_consent_at == SENT_AT
    assert set(letter.deliveries.values_list("status", flat=True)) == {Delivery.Status.SENT}
    mail.outbox = []

    with time_machine.travel(SENT_AT + 14 * DAY + timedelta(minutes=5), tick=False):
        run_command()

    (message,) = mail.outbox
    assert message.to == ["jane@example.net"]
    assert re.search(rf"/letters/{letter.token}/reply/\?outcome=replied", message.body)
