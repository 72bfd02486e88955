# ruff: noqa: F811  (pytest fixtures imported from journey_helpers)
"""Erasing residents' personal data: the retention purge and delete-my-data."""

from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
import time_machine
from django.conf import settings
from django.core import mail
from django.core.management import call_command
from django.test import Client
from django.utils import timezone, translation

from campaigns.templatetags.campaign_tags import long_date
from letters.erasure import personal_data_purge
from letters.models import Delivery, Letter, OutboxMessage, OutgoingMail
from letters.selectors import letter_counts
from letters.services import letter_delete_request, letter_queue
from tests.factories import CampaignFactory
from tests.letters.delivery_helpers import make_letter, use_smtp
from tests.letters.journey_helpers import (  # noqa: F401
    campaign,
    council,
    journey_settings,
    letter_data,
    write_and_send,
)
from tests.letters.smtp_server import SMTPServer

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 1, 10, 12, 0, tzinfo=UTC)


def _letter(campaign, **fields):
    return make_letter(
        campaign=campaign,
        street_address="12 Elm Street",
        personal_message="My street has three new cameras.",
        **fields,
    )


def _assert_erased(letter: Letter):
    letter.refresh_from_db()
    assert letter.purged_at is not None
    assert (letter.first_name, letter.last_name, letter.email) == ("", "", "")
    assert letter.street_address == ""
    assert letter.personal_message == ""
    assert letter.body == "" and letter.subject == ""
    assert letter.postal_code == "K1A"


# --- Retention purge ----------------------------------------------------------------------------


def test_it_erases_letters_retention_days_after_the_campaign_closes():
    campaign = CampaignFactory(closes_at=T0 + timedelta(days=30), retention_days=90)
    with time_machine.travel(T0, tick=False):
        letter = _letter(campaign)
    with time_machine.travel(T0 + timedelta(days=119), tick=False):
        assert personal_data_purge() == 0
    letter.refresh_from_db()
    assert letter.email == "jane.resident@example.net"
    with time_machine.travel(T0 + timedelta(days=120, seconds=1), tick=False):
        assert personal_data_purge() == 1
    _assert_erased(letter)


def test_it_keeps_what_counts_need_and_counts_do_not_change():
    campaign = CampaignFactory(retention_days=30)
    with time_machine.travel(T0, tick=False):
        letter = _letter(campaign, language="fr")
        before = letter_counts(campaign=campaign, by="municipality")
        day_before = letter_counts(campaign=campaign, by="day")
    with time_machine.travel(T0 + timedelta(days=31), tick=False):
        personal_data_purge()
        assert letter_counts(campaign=campaign, by="municipality") == before
        assert letter_counts(campaign=campaign, by="day") == day_before
    letter.refresh_from_db()
    assert letter.language == "fr"
    assert letter.status == Letter.Status.CONFIRMED
    assert letter.municipality_id and letter.confirmed_at == T0
    assert letter.created_at == T0


def test_without_a_closing_time_it_counts_from_each_letters_creation():
    campaign = CampaignFactory(closes_at=None, retention_days=10)
    with time_machine.travel(T0, tick=False):
        old = _letter(campaign)
    with time_machine.travel(T0 + timedelta(days=5), tick=False):
        recent = _letter(campaign, email="other@example.net")
    with time_machine.travel(T0 + timedelta(days=11), tick=False):
        assert personal_data_purge() == 1
    _assert_erased(old)
    recent.refresh_from_db()
    assert recent.purged_at is None and recent.first_name == "Jane"


def test_it_counts_from_the_later_of_a_letters_creation_and_the_close():
    campaign = CampaignFactory(closes_at=T0, retention_days=7)
    with time_machine.travel(T0 - timedelta(days=3), tick=False):
        before_close = _letter(campaign)
    with time_machine.travel(T0 + timedelta(days=1), tick=False):
        after_close = _letter(campaign, email="late@example.net")  # in the grace period
    with time_machine.travel(T0 + timedelta(days=7, seconds=1), tick=False):
        assert personal_data_purge() == 1
    _assert_erased(before_close)
    after_close.refresh_from_db()
    assert after_close.purged_at is None
    with time_machine.travel(T0 + timedelta(days=8), tick=False):
        assert personal_data_purge() == 1
    _assert_erased(after_close)


@pytest.mark.parametrize("closes_in_days", [None, 20])
def test_the_privacy_page_gives_the_date_the_purge_keeps(client, closes_in_days):
    """The page's date comes from the purge's own rule (Campaign.personal_data_erased_at):
    a letter written when the page is read survives every purge until that date, and is
    erased by the first purge after it."""
    closes = T0 + timedelta(days=closes_in_days) if closes_in_days else None
    campaign = CampaignFactory(title_en="Cams", closes_at=closes, retention_days=30)
    with time_machine.travel(T0, tick=False):
        html = client.get("/privacy/").content.decode()
        letter = _letter(campaign)
    erased_at = campaign.personal_data_erased_at(T0)
    assert erased_at == (closes or T0) + timedelta(days=30)
    with translation.override("en"):
        date = long_date(timezone.localtime(erased_at))
    assert f"A letter written today is kept until {date}" in html

    with time_machine.travel(erased_at - timedelta(seconds=1), tick=False):
        assert personal_data_purge() == 0
    with time_machine.travel(erased_at, tick=False):
        assert personal_data_purge() == 1
    _assert_erased(letter)


def test_the_privacy_page_says_when_a_closed_campaigns_letters_go(client):
    campaign = CampaignFactory(title_en="Cams", status="closed", closes_at=T0, retention_days=30)
    with time_machine.travel(T0 + timedelta(days=2), tick=False):
        html = client.get("/privacy/").content.decode()
    assert "Its letters are kept until Feb. 9, 2026." in html
    assert campaign.personal_data_erased_at(T0).date().isoformat() == "2026-02-09"


def test_it_cancels_deliveries_and_emails_still_waiting_and_keeps_sent_ones(
    django_capture_on_commit_callbacks,
):
    campaign = CampaignFactory(retention_days=1)
    with time_machine.travel(T0, tick=False):
        waiting = _letter(campaign, send_copy=True)
        letter_queue(letter=waiting)  # queued; their tasks never ran
        sent = _letter(campaign, email="sent@example.net", send_copy=True)
        with django_capture_on_commit_callbacks(execute=True):
            letter_queue(letter=sent)
    assert len(mail.outbox) == 3
    with time_machine.travel(T0 + timedelta(days=2), tick=False):
        assert personal_data_purge() == 2
    assert set(waiting.deliveries.values_list("status", flat=True)) == {Delivery.Status.CANCELLED}
    assert list(waiting.mails.values_list("status", flat=True)) == ["cancelled"] * 3
    assert set(sent.deliveries.values_list("status", flat=True)) == {Delivery.Status.SENT}
    assert list(sent.mails.values_list("status", flat=True)) == ["sent"] * 3
    # Nothing is left for the sweep to send.
    assert OutgoingMail.objects.due(now=T0 + timedelta(days=3)).count() == 0


def test_it_forgets_the_local_outbox_copies_of_the_residents_mail():
    campaign = CampaignFactory(retention_days=1)
    with time_machine.travel(T0, tick=False):
        _letter(campaign)
        OutboxMessage.objects.create(
            from_email="x@example.org",
            to="Jane Resident <jane.resident@example.net>",
            subject="Your copy",
            body="...",
            raw="...",
        )
        OutboxMessage.objects.create(
            from_email="x@example.org", to="mayor@example.org", subject="S", body="b", raw="r"
        )
    with time_machine.travel(T0 + timedelta(days=2), tick=False):
        personal_data_purge()
    assert list(OutboxMessage.objects.values_list("to", flat=True)) == ["mayor@example.org"]


def test_a_second_run_changes_nothing():
    campaign = CampaignFactory(retention_days=1)
    with time_machine.travel(T0, tick=False):
        _letter(campaign)
    with time_machine.travel(T0 + timedelta(days=2), tick=False):
        assert personal_data_purge() == 1
        assert personal_data_purge() == 0


def test_the_command_prints_a_summary():
    campaign = CampaignFactory(retention_days=1)
    with time_machine.travel(T0, tick=False):
        letter = _letter(campaign)
    out = StringIO()
    with time_machine.travel(T0 + timedelta(days=2), tick=False):
        call_command("purge_personal_data", stdout=out)
    assert "1 letter" in out.getvalue()
    _assert_erased(letter)


def test_the_daily_beat_job_runs_the_purge():
    entry = settings.CELERY_BEAT_SCHEDULE["purge-personal-data"]
    assert entry["task"] == "letters.tasks.personal_data_purge"
    # The sender's sweep is still scheduled beside it.
    assert "send-due-mail" in settings.CELERY_BEAT_SCHEDULE
    from letters.tasks import personal_data_purge as task

    campaign = CampaignFactory(retention_days=1)
    with time_machine.travel(T0, tick=False):
        letter = _letter(campaign)
    with time_machine.travel(T0 + timedelta(days=2), tick=False):
        assert task.delay().get() == 1
    _assert_erased(letter)


# --- Delete my data -----------------------------------------------------------------------------


def _delete_url(letter, prefix=""):
    return f"{prefix}/letters/{letter.token}/delete/"


def test_get_asks_to_confirm_and_erases_nothing(client):
    letter = _letter(CampaignFactory())
    response = client.get(_delete_url(letter))
    assert response.status_code == 200
    assert b"Delete my personal data" in response.content
    assert b'method="post"' in response.content
    letter.refresh_from_db()
    assert letter.purged_at is None


def test_post_erases_at_once_and_emails_the_address_it_erased(
    client, django_capture_on_commit_callbacks
):
    campaign = CampaignFactory(title_en="Stop the cameras")
    letter = _letter(campaign, send_copy=True)
    letter_queue(letter=letter)  # the letter and its copy wait for their turn
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(_delete_url(letter))
    assert response.status_code == 302
    assert response["Location"] == _delete_url(letter)
    _assert_erased(letter)
    assert set(letter.deliveries.values_list("status", flat=True)) == {Delivery.Status.CANCELLED}
    assert set(letter.mails.exclude(kind="erased").values_list("status", flat=True)) == {
        OutgoingMail.Status.CANCELLED
    }
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    # The notice has only the address: the name went with the rest of the letter.
    assert message.to == ["jane.resident@example.net"]
    assert "Stop the cameras" in message.subject
    assert "deleted your personal data" in message.body
    assert "Jane" not in message.body
    html = message.alternatives[0][0]
    assert "deleted your personal data" in html
    notice = letter.mails.get(kind=OutgoingMail.Kind.ERASED)
    assert notice.status == OutgoingMail.Status.SENT
    assert notice.attempts == 1
    assert message.extra_headers["Message-ID"] == notice.message_id
    # Sent: the address is gone from the row too.
    assert notice.to_email == ""
    page = client.get(_delete_url(letter))
    assert b"Your personal data is deleted" in page.content


def test_the_erasure_notice_holds_the_address_until_it_is_sent():
    letter = _letter(CampaignFactory())

    letter_delete_request(letter=letter)  # its task waits for a commit

    _assert_erased(letter)
    notice = OutgoingMail.objects.get(letter=letter)
    assert notice.kind == OutgoingMail.Kind.ERASED
    assert notice.status == OutgoingMail.Status.QUEUED
    assert notice.to_email == "jane.resident@example.net"


def test_the_erasure_notice_forgets_the_address_when_it_fails_for_good(
    django_capture_on_commit_callbacks, settings
):
    server = SMTPServer().start()
    try:
        use_smtp(settings, server.port)
        server.recorder.reject["jane.resident@example.net"] = "550 5.1.1 No such user here"
        letter = _letter(CampaignFactory())
        with django_capture_on_commit_callbacks(execute=True):
            letter_delete_request(letter=letter)
    finally:
        server.stop()

    notice = OutgoingMail.objects.get(letter=letter)
    assert notice.status == OutgoingMail.Status.FAILED
    assert "550" in notice.last_error
    assert notice.to_email == ""


def test_delete_keeps_the_letter_counted():
    campaign = CampaignFactory()
    letter = _letter(campaign)
    before = letter_counts(campaign=campaign, by="province")
    Client().post(_delete_url(letter))
    assert letter_counts(campaign=campaign, by="province") == before
    assert Letter.objects.counted().filter(pk=letter.pk).exists()


def test_a_second_post_sends_no_second_email(client, django_capture_on_commit_callbacks):
    letter = _letter(CampaignFactory())
    with django_capture_on_commit_callbacks(execute=True):
        client.post(_delete_url(letter))
        client.post(_delete_url(letter))
    assert len(mail.outbox) == 1
    assert letter.mails.filter(kind=OutgoingMail.Kind.ERASED).count() == 1


def test_french_page_and_french_email(client, django_capture_on_commit_callbacks):
    letter = _letter(CampaignFactory(), language="fr")
    response = client.get(_delete_url(letter, prefix="/fr"))
    assert response.status_code == 200
    assert b'lang="fr"' in response.content
    with django_capture_on_commit_callbacks(execute=True):
        client.post(_delete_url(letter, prefix="/fr"))
    assert mail.outbox[0].extra_headers["Content-Language"] == "fr"


def test_an_unconfirmed_letter_is_withdrawn_and_its_link_sends_nothing(
    client, campaign, council, journey_settings, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        write_and_send(client, campaign, letter_data(recipients=[council["mayor"].pk]))
    letter = Letter.objects.get()
    assert letter.status == Letter.Status.PENDING_CONFIRMATION
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        client.post(_delete_url(letter))
    letter.refresh_from_db()
    assert letter.status == Letter.Status.WITHDRAWN
    mail.outbox.clear()
    link = f"/letters/confirm/{letter.confirmation_token}/"
    page = client.get(link, follow=True).content.decode()
    assert "This letter will not be sent." in page and "already confirmed" not in page
    with django_capture_on_commit_callbacks(execute=True):
        client.post(link)
    assert mail.outbox == []
    assert not letter.deliveries.exclude(status=Delivery.Status.CANCELLED).filter(
        status__in=[Delivery.Status.QUEUED, Delivery.Status.SENT]
    )
    campaign.refresh_from_db()
    assert campaign.letters_count == 0


def test_made_up_token_is_404(client):
    assert client.get("/letters/not-a-real-token/delete/").status_code == 404
    assert client.post("/letters/not-a-real-token/delete/").status_code == 404


def test_it_rejects_other_methods(client):
    letter = _letter(CampaignFactory())
    assert client.put(_delete_url(letter)).status_code == 405


# --- Privacy page -------------------------------------------------------------------------------


def test_privacy_page_names_each_campaigns_retention_and_the_mail_processor(client, settings):
    settings.ANYMAIL_ESP = "postmark"
    CampaignFactory(title_en="Cameras", retention_days=180, closes_at=T0)
    CampaignFactory(title_en="Evergreen", retention_days=30, closes_at=None)
    html = client.get("/privacy/").content.decode()
    assert "erased 180 days after the campaign closes" in html
    assert "Evergreen: your personal details are erased 30 days after you write" in html
    assert "delivered by Postmark" in html


def test_privacy_page_says_smtp_without_an_esp_and_exists_in_french(client, settings):
    settings.ANYMAIL_ESP = ""
    assert "delivered by SMTP" in client.get("/privacy/").content.decode()
    response = client.get("/fr/privacy/")
    assert response.status_code == 200
    assert b'lang="fr"' in response.content


def test_unfinished_letters_leave_with_their_expired_sessions(campaign, council, journey_settings):
    from django.contrib.sessions.models import Session

    from letters.tasks import personal_data_purge as purge_task
    from tests.letters.journey_helpers import choose_council, fill_letter

    writer = Client()
    with time_machine.travel(T0, tick=False):
        choose_council(writer, campaign)
        fill_letter(writer, campaign, letter_data(personal_message="Three cameras on my street."))
    (abandoned,) = Session.objects.all()
    assert "Three cameras" in str(abandoned.get_decoded())

    later = T0 + timedelta(seconds=settings.SESSION_COOKIE_AGE) + timedelta(days=1)
    with time_machine.travel(later, tick=False):
        today = Client()
        choose_council(today, campaign)
        purge_task.apply()
    assert list(Session.objects.values_list("session_key", flat=True)) == [
        today.session.session_key
    ]


def test_the_purge_command_reports_expired_sessions(campaign, council, journey_settings):
    from tests.letters.journey_helpers import choose_council

    with time_machine.travel(T0, tick=False):
        choose_council(Client(), campaign)
    out = StringIO()
    with time_machine.travel(T0 + timedelta(days=400), tick=False):
        call_command("purge_personal_data", stdout=out)
    assert "deleted 1 expired session(s)" in out.getvalue()
