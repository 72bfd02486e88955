"""Campaign updates reach the residents who ticked "Keep me updated", and no one else, once,
through the outgoing mail, with an unsubscribe link and one-click List-Unsubscribe headers;
an unsubscribe is honoured at once and recorded."""

from io import StringIO

import pytest
import time_machine
from django.core import mail
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from letters import replies_and_updates, services
from letters.models import CampaignUpdate, Letter, OutgoingMail
from letters.selectors import update_recipient_count
from tests.factories import CampaignFactory
from tests.letters.followup_helpers import SENT_AT, council_of, sent_letter

pytestmark = pytest.mark.django_db

NOW = SENT_AT


@pytest.fixture(autouse=True)
def _frozen(settings):
    settings.SITE_URL = "https://letters.example.org"
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def campaign():
    return CampaignFactory(slug="cams")


@pytest.fixture
def council():
    return council_of("Ottawa", ["Mara Mayor"])


def consenting(campaign, council, **fields) -> Letter:
    return sent_letter(campaign, *council, consent_given=True, **fields)


def make_update(campaign) -> CampaignUpdate:
    return CampaignUpdate.objects.create(
        campaign=campaign,
        subject_en="The vote is on Tuesday",
        subject_fr="Le vote a lieu mardi",
        body_en="Council votes on Tuesday.",
        body_fr="Le conseil vote mardi.",
    )


def send(update, capture) -> int:
    with capture(execute=True):
        return replies_and_updates.campaign_update_send(update=update)


def test_it_reaches_only_residents_who_opted_in(
    campaign, council, django_capture_on_commit_callbacks
):
    wanted = consenting(campaign, council)
    sent_letter(campaign, *council, consent_given=False)
    consenting(campaign, council, is_test=True)
    unconfirmed = consenting(campaign, council)
    Letter.objects.filter(pk=unconfirmed.pk).update(
        status=Letter.Status.PENDING_CONFIRMATION, confirmed_at=None
    )
    consenting(campaign, council, unsubscribed_at=NOW)
    erased = consenting(campaign, council)
    services.letter_delete_request(letter=erased)
    consenting(CampaignFactory(slug="other"), council)
    mail.outbox = []
    update = make_update(campaign)

    assert update_recipient_count(campaign_id=campaign.pk) == 1
    assert send(update, django_capture_on_commit_callbacks) == 1

    assert [message.to for message in mail.outbox] == [[wanted.email]]
    update.refresh_from_db()
    assert (update.sent_at, update.recipients) == (NOW, 1)


def test_a_resident_who_wrote_to_several_councils_gets_it_once(
    campaign, django_capture_on_commit_callbacks
):
    consenting(campaign, council_of("Ottawa", ["A"]), email="jane@example.net")
    consenting(campaign, council_of("Gatineau", ["B"]), email="Jane+cams@Example.net")

    assert update_recipient_count(campaign_id=campaign.pk) == 1
    assert send(make_update(campaign), django_capture_on_commit_callbacks) == 1
    assert len(mail.outbox) == 1


def test_it_goes_out_once(campaign, council, django_capture_on_commit_callbacks):
    consenting(campaign, council)
    update = make_update(campaign)
    send(update, django_capture_on_commit_callbacks)

    with pytest.raises(replies_and_updates.UpdateAlreadySent):
        send(update, django_capture_on_commit_callbacks)

    assert len(mail.outbox) == 1
    assert OutgoingMail.objects.filter(update=update).count() == 1


def test_it_goes_through_the_outgoing_mail_with_an_unsubscribe_link_and_headers(
    campaign, council, django_capture_on_commit_callbacks
):
    letter = consenting(campaign, council, language="fr")
    update = make_update(campaign)

    send(update, django_capture_on_commit_callbacks)

    row = OutgoingMail.objects.get(update=update)
    assert (row.kind, row.status, row.letter_id) == ("update", "sent", letter.pk)
    (message,) = mail.outbox
    assert message.subject == "Le vote a lieu mardi"
    assert "Le conseil vote mardi." in message.body
    link = f"https://letters.example.org/fr/letters/unsubscribe/{letter.unsubscribe_token()}/"
    assert link in message.body
    assert link in message.alternatives[0][0]
    assert message.extra_headers["List-Unsubscribe"] == f"<{link}>"
    assert message.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    # The link opens nothing else: not the letter, its status or its deletion.
    assert letter.token not in message.body


def test_the_unsubscribe_page_asks_first_and_changes_nothing(client, campaign, council):
    letter = consenting(campaign, council)
    url = reverse("letters:unsubscribe", kwargs={"value": letter.unsubscribe_token()})

    response = client.get(url)

    assert response.status_code == 200
    assert "Stop the updates?" in response.content.decode()
    letter.refresh_from_db()
    assert letter.unsubscribed_at is None


def test_an_unsubscribe_is_recorded_and_honoured_at_once(
    campaign, council, django_capture_on_commit_callbacks
):
    letter = consenting(campaign, council)
    other = consenting(campaign, council)
    update = make_update(campaign)
    # Queued, not sent yet (its tasks have not run).
    assert replies_and_updates.campaign_update_send(update=update) == 2
    url = reverse("letters:unsubscribe", kwargs={"value": letter.unsubscribe_token()})

    # A mail client's one-click POST carries no CSRF token.
    response = Client(enforce_csrf_checks=True).post(url, {"List-Unsubscribe": "One-Click"})

    assert response.status_code == 200
    assert "You are unsubscribed" in response.content.decode()
    letter.refresh_from_db()
    assert letter.unsubscribed_at == NOW
    call_command("requeue_deliveries", stdout=StringIO())
    assert [message.to for message in mail.outbox] == [[other.email]]
    assert OutgoingMail.objects.get(letter=letter).status == OutgoingMail.Status.CANCELLED
    # And the next update leaves them out.
    later = CampaignUpdate.objects.create(campaign=campaign, subject_en="Next", body_en="News")
    assert send(later, django_capture_on_commit_callbacks) == 1


def test_unsubscribing_twice_keeps_the_first_time(client, campaign, council):
    letter = consenting(campaign, council, unsubscribed_at=SENT_AT)
    url = reverse("letters:unsubscribe", kwargs={"value": letter.unsubscribe_token()})

    with time_machine.travel(NOW.replace(day=20), tick=False):
        client.post(url)

    letter.refresh_from_db()
    assert letter.unsubscribed_at == SENT_AT


def test_a_forged_unsubscribe_link_finds_nothing(client, campaign, council):
    letter = consenting(campaign, council)
    token = letter.unsubscribe_token()

    for value in (token[:-2] + "xx", letter.token, str(letter.pk)):
        url = reverse("letters:unsubscribe", kwargs={"value": value})
        assert client.post(url).status_code == 404
    letter.refresh_from_db()
    assert letter.unsubscribed_at is None


def test_unsubscribing_keeps_the_letter(client, campaign, council):
    letter = consenting(campaign, council)
    url = reverse("letters:unsubscribe", kwargs={"value": letter.unsubscribe_token()})

    client.post(url)

    letter.refresh_from_db()
    assert letter.status == Letter.Status.CONFIRMED and letter.purged_at is None
    assert letter.consent_given  # the record of what was agreed stays
