"""Permanent failures classified (SMTP replies and ESP events alike); a council whose server
refuses our mail on policy is flagged, its mail paused and resumed by an organizer; the admin's
Council delivery page; test letters and erased letters around a blocked council."""

import itertools
import re
import smtplib

import pytest
from django.urls import reverse
from django.utils import timezone

from letters.delivery_events import council_mail_resume, delivery_track
from letters.groups import ORGANIZERS
from letters.models import Delivery, OutgoingMail
from letters.sending import (
    council_block,
    event_failure_kind,
    failure_kind,
    mails_send_due,
    send_failure,
)
from letters.services import letter_delete_request, letter_test_send
from tests.factories import CampaignFactory, UserFactory
from tests.letters.council_helpers import confirm, council, letter_to
from tests.letters.delivery_helpers import use_smtp
from tests.letters.smtp_server import SMTPServer

pytestmark = pytest.mark.django_db

BLOCK = "550 5.7.1 Service unavailable; client host [192.0.2.1] blocked by policy"


@pytest.fixture(autouse=True)
def unpaced(settings):
    settings.LETTERS_PER_RECIPIENT_HOUR = 3_600_000


def esp_reports_a_policy_block(delivery: Delivery) -> None:
    """The ESP's webhook: the council's server refused this delivery by policy."""
    delivery_track(
        event_type="bounced",
        message_id=delivery.mail.message_id,
        recipient=delivery.recipient_email,
        reject_reason="blocked",
        mta_response="550 5.7.1 blocked",
        esp_name="Postmark",
    )


@pytest.fixture
def smtp(settings):
    server = SMTPServer().start()
    use_smtp(settings, server.port)
    yield server.recorder
    server.stop()


# --- Classification -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "reply", "kind"),
    [
        (550, "5.1.1 <rep@town.example.ca>: Recipient address rejected: User unknown", "unknown"),
        (550, "No such user here", "unknown"),
        (551, "User not local", "unknown"),
        (552, "5.2.2 Mailbox full", "full"),
        (452, "4.2.2 Over quota", "full"),
        (550, "5.7.1 Message blocked by the recipient's mail flow rule", "blocked"),
        (554, "5.7.1 Client host rejected: listed on zen.spamhaus.org", "blocked"),
        (550, "Message rejected as spam", "blocked"),
        (554, "Transaction failed", "other"),
    ],
)
def test_each_smtp_refusal_gets_its_kind(code, reply, kind):
    assert failure_kind(code, reply) == kind


@pytest.mark.parametrize(
    ("event_type", "reject_reason", "reply", "kind"),
    [
        ("bounced", "bounced", "smtp; 550 5.1.1 user unknown", "unknown"),
        ("bounced", "invalid", "", "unknown"),
        ("bounced", "bounced", "552 5.2.2 mailbox full", "full"),
        ("bounced", "blocked", "", "blocked"),
        ("bounced", "bounced", "550 5.7.1 blocked using zen.spamhaus.org", "blocked"),
        ("complained", None, "", "complaint"),
        ("rejected", "spam", "", "complaint"),
    ],
)
def test_each_esp_event_gets_the_same_kinds(event_type, reject_reason, reply, kind):
    assert event_failure_kind(event_type=event_type, reject_reason=reject_reason, reply=reply) == (
        kind
    )


def test_a_5xx_data_refusal_is_classified_too():
    failure = send_failure(smtplib.SMTPDataError(554, b"5.7.1 Message blocked by policy"))
    assert (failure.transient, failure.kind) == (False, "blocked")
    failure = send_failure(smtplib.SMTPDataError(451, b"4.7.1 Try again later"))
    assert (failure.transient, failure.kind) == (True, "")


def test_a_refused_recipient_keeps_its_kind_on_its_delivery(
    smtp, django_capture_on_commit_callbacks
):
    reps = council(2)
    smtp.reject[reps[0].email] = "550 5.1.1 User unknown"
    smtp.reject[reps[1].email] = "552 5.2.2 Mailbox full"
    letter = confirm(letter_to(reps), django_capture_on_commit_callbacks)

    failures = dict(letter.deliveries.values_list("representative_id", "failure"))
    assert failures == {reps[0].pk: "unknown", reps[1].pk: "full"}
    assert set(letter.deliveries.values_list("status", flat=True)) == {Delivery.Status.FAILED}
    reps[0].refresh_from_db()
    reps[1].refresh_from_db()
    assert (reps[0].bounce_count, reps[1].bounce_count) == (1, 0)  # a full mailbox is no fault


# --- A policy block -------------------------------------------------------------------------------


def test_a_5xx_policy_block_flags_the_council_and_holds_its_other_mail(
    smtp, django_capture_on_commit_callbacks
):
    reps = council(3, name="Minneapolis")
    smtp.reject[reps[0].email] = BLOCK
    letter = confirm(letter_to(reps), django_capture_on_commit_callbacks)

    municipality = reps[0].municipality
    municipality.refresh_from_db()
    assert municipality.mail_blocked_at is not None
    assert "5.7.1" in municipality.mail_block_reason
    # The refused email and the council's others wait; nothing else was tried on the server.
    assert set(letter.deliveries.values_list("status", flat=True)) == {Delivery.Status.HELD}
    assert letter.deliveries.get(representative=reps[0]).failure == "blocked"
    assert smtp.received == []
    reps[0].refresh_from_db()
    assert reps[0].bounce_count == 0  # the address is not at fault

    # A letter confirmed meanwhile is held at once, never tried.
    later = confirm(letter_to(reps, first_name="Paul"), django_capture_on_commit_callbacks)
    assert set(later.deliveries.values_list("status", flat=True)) == {Delivery.Status.HELD}
    assert mails_send_due() == 0
    assert smtp.received == []


def test_another_council_is_not_paused(smtp, django_capture_on_commit_callbacks):
    blocking = council(1, name="Minneapolis")
    other = council(1, name="Barrie")
    smtp.reject[blocking[0].email] = BLOCK
    confirm(letter_to(blocking), django_capture_on_commit_callbacks)

    letter = confirm(letter_to(other), django_capture_on_commit_callbacks)

    assert letter.deliveries.get().status == Delivery.Status.SENT
    assert [r.rcpt_tos for r in smtp.received] == [[other[0].email]]


def test_resume_sends_the_held_mail_once(smtp, django_capture_on_commit_callbacks):
    reps = council(2, name="Minneapolis")
    smtp.reject[reps[0].email] = BLOCK
    first = confirm(letter_to(reps), django_capture_on_commit_callbacks)
    second = confirm(letter_to(reps, first_name="Paul"), django_capture_on_commit_callbacks)
    del smtp.reject[reps[0].email]

    with django_capture_on_commit_callbacks(execute=True):
        released = council_mail_resume(municipality=reps[0].municipality)

    assert released == 4
    reps[0].municipality.refresh_from_db()
    assert reps[0].municipality.mail_blocked_at is None
    assert reps[0].municipality.mail_block_reason == ""
    for letter in (first, second):
        assert set(letter.deliveries.values_list("status", flat=True)) == {Delivery.Status.SENT}
    arrived = sorted(tuple(r.rcpt_tos) for r in smtp.received)
    assert arrived == sorted([(reps[0].email,), (reps[1].email,)] * 2)
    assert mails_send_due() == 0


def test_resumed_mail_is_paced_again(settings, django_capture_on_commit_callbacks):
    settings.LETTERS_PER_RECIPIENT_HOUR = 20
    (rep,) = council(name="Minneapolis")
    municipality = rep.municipality
    municipality.mail_blocked_at = timezone.now()
    municipality.save()
    for name in ("Ann", "Bob", "Cat"):
        confirm(letter_to([rep], first_name=name), django_capture_on_commit_callbacks)

    with django_capture_on_commit_callbacks(execute=False):
        council_mail_resume(municipality=municipality)

    slots = sorted(OutgoingMail.objects.filter(kind="letter").values_list("send_after", flat=True))
    assert [(b - a).total_seconds() for a, b in itertools.pairwise(slots)] == [180, 180]


def test_a_blocked_event_from_the_esp_pauses_the_council(django_capture_on_commit_callbacks):
    reps = council(2, name="Minneapolis")
    sent = confirm(letter_to(reps[:1]), django_capture_on_commit_callbacks)
    delivery = sent.deliveries.get()
    municipality = reps[0].municipality
    municipality.refresh_from_db()
    assert municipality.mail_blocked_at is None

    esp_reports_a_policy_block(delivery)

    municipality.refresh_from_db()
    assert municipality.mail_blocked_at is not None
    held = confirm(letter_to(reps, first_name="Paul"), django_capture_on_commit_callbacks)
    assert set(held.deliveries.values_list("status", flat=True)) == {Delivery.Status.HELD}


# --- Organizers are told ---------------------------------------------------------------------------


@pytest.fixture
def organizers(db):
    """Who hears of a block: two organizers and a superuser; not a former organizer, one
    without an address, nor plain staff."""
    from django.contrib.auth.models import Group

    group, _created = Group.objects.get_or_create(name=ORGANIZERS)
    for name, fields in [
        ("olga", {}),
        ("omar", {"email": "Omar@Example.org"}),
        ("former", {"is_active": False}),
        ("noaddress", {"email": ""}),
    ]:
        UserFactory(username=name, is_staff=True, **fields).groups.add(group)
    UserFactory(username="root", is_staff=True, is_superuser=True)
    UserFactory(username="staffer", is_staff=True)
    return ["olga@example.org", "omar@example.org", "root@example.org"]


def alerts_received(smtp) -> dict[str, str]:
    """Each alert the sink received, by recipient: its text part."""
    out = {}
    for received in smtp.received:
        message = received.message
        if "refusing our letters" in str(message["Subject"]):
            text = message.get_body(preferencelist=("plain",)).get_content()
            out.update(dict.fromkeys(received.rcpt_tos, text))
    return out


def test_organizers_are_emailed_once_when_a_council_starts_blocking_our_mail(
    smtp, organizers, settings, django_capture_on_commit_callbacks
):
    settings.SITE_URL = "https://letters.example.org"
    reps = council(2, name="Minneapolis")
    smtp.reject[reps[0].email] = BLOCK
    confirm(letter_to(reps), django_capture_on_commit_callbacks)
    confirm(letter_to(reps, first_name="Paul"), django_capture_on_commit_callbacks)

    # Saved with the block, in its transaction; the sweep (or the task's batch) sends them.
    assert mails_send_due() == 3

    alerts = alerts_received(smtp)
    assert sorted(alerts) == organizers
    text = alerts["olga@example.org"]
    assert "The mail server of the council of Minneapolis (ON) refused a letter" in text
    assert "blocked by policy" in text
    assert "4 emails to it are held for now" in text
    assert "let mail from example.org through" in text
    assert "https://letters.example.org/admin/letters/delivery/councils/" in text
    # Nothing personal stays on the rows once sent, and no council mail went out meanwhile.
    assert set(OutgoingMail.objects.filter(kind="blocked").values_list("to_email", flat=True)) == {
        ""
    }
    assert [r for r in smtp.received if set(r.rcpt_tos) & {rep.email for rep in reps}] == []

    # Still blocked: a later refusal tells nobody again.
    council_block(reps[0].municipality, BLOCK, campaign=CampaignFactory())
    assert mails_send_due() == 0
    assert len(alerts_received(smtp)) == 3


def test_the_servers_answer_cannot_put_markup_in_the_organizers_alert(
    smtp, organizers, django_capture_on_commit_callbacks
):
    reps = council(1, name="Minneapolis")
    smtp.reject[reps[0].email] = '550 5.7.1 blocked by policy <script>alert("x")</script>'
    confirm(letter_to(reps), django_capture_on_commit_callbacks)

    mails_send_due()

    (alert, *_others) = [r.message for r in smtp.received if r.rcpt_tos == [organizers[0]]]
    html = alert.get_body(preferencelist=("html",)).get_content()
    assert "<script>" not in html
    assert "&lt;script&gt;" in html
    assert "\n" not in str(alert["Subject"])


def test_an_alert_is_not_sent_once_the_council_is_resumed(
    smtp, organizers, django_capture_on_commit_callbacks
):
    reps = council(1, name="Minneapolis")
    smtp.reject[reps[0].email] = BLOCK
    confirm(letter_to(reps), django_capture_on_commit_callbacks)
    del smtp.reject[reps[0].email]
    with django_capture_on_commit_callbacks(execute=False):
        council_mail_resume(municipality=reps[0].municipality)

    mails_send_due()

    assert alerts_received(smtp) == {}
    assert set(OutgoingMail.objects.filter(kind="blocked").values_list("status", flat=True)) == {
        OutgoingMail.Status.CANCELLED
    }


def test_a_block_reported_by_the_esp_emails_the_organizers_at_once(
    organizers, django_capture_on_commit_callbacks, mailoutbox
):
    reps = council(1, name="Minneapolis")
    sent = confirm(letter_to(reps), django_capture_on_commit_callbacks)
    delivery = sent.deliveries.get()

    with django_capture_on_commit_callbacks(execute=True):
        esp_reports_a_policy_block(delivery)

    alerts = [m for m in mailoutbox if "refusing our letters" in m.subject]
    assert sorted(address for m in alerts for address in m.to) == organizers
    assert "550 5.7.1 blocked" in alerts[0].body


# --- Test letters and erasure around a block -------------------------------------------------------


def test_an_organizers_test_letter_to_a_blocked_council_still_reaches_the_organizer(
    smtp, django_capture_on_commit_callbacks
):
    reps = council(2, name="Minneapolis")
    municipality = reps[0].municipality
    municipality.mail_blocked_at = timezone.now()
    municipality.save()
    organizer = UserFactory(email="organizer@example.org")
    campaign = CampaignFactory()
    with django_capture_on_commit_callbacks(execute=True):
        letter = letter_test_send(
            campaign=campaign, municipality=municipality, language="en", user=organizer
        )

    assert letter.is_test
    assert [r.rcpt_tos for r in smtp.received] == [["organizer@example.org"]]
    assert set(letter.deliveries.values_list("status", flat=True)) == {Delivery.Status.SENT}
    assert not OutgoingMail.objects.filter(status=OutgoingMail.Status.HELD).exists()


def test_erasing_a_letter_held_by_a_blocked_council_cancels_its_emails(
    smtp, django_capture_on_commit_callbacks
):
    reps = council(2, name="Minneapolis")
    municipality = reps[0].municipality
    municipality.mail_blocked_at = timezone.now()
    municipality.save()
    letter = confirm(letter_to(reps), django_capture_on_commit_callbacks)
    kept = confirm(letter_to(reps, first_name="Paul"), django_capture_on_commit_callbacks)
    assert set(letter.deliveries.values_list("status", flat=True)) == {Delivery.Status.HELD}

    with django_capture_on_commit_callbacks(execute=True):
        letter_delete_request(letter=letter)

    assert set(letter.deliveries.values_list("status", flat=True)) == {Delivery.Status.CANCELLED}
    assert set(
        OutgoingMail.objects.filter(letter=letter, kind="letter").values_list("status", flat=True)
    ) == {OutgoingMail.Status.CANCELLED}
    smtp.received.clear()
    with django_capture_on_commit_callbacks(execute=True):
        released = council_mail_resume(municipality=municipality)
    assert released == 2  # only the letter still wanted
    assert sorted(r.rcpt_tos[0] for r in smtp.received) == sorted(rep.email for rep in reps)
    assert all("Paul" in r.message["From"] for r in smtp.received)
    assert set(kept.deliveries.values_list("status", flat=True)) == {Delivery.Status.SENT}


def test_erasing_a_letter_waiting_for_its_paced_slot_cancels_its_email(
    settings, smtp, django_capture_on_commit_callbacks
):
    settings.LETTERS_PER_RECIPIENT_HOUR = 20
    (rep,) = council()
    confirm(letter_to([rep]), django_capture_on_commit_callbacks)
    letter = confirm(letter_to([rep], first_name="Paul"), django_capture_on_commit_callbacks)
    assert letter.deliveries.get().status == Delivery.Status.QUEUED

    with django_capture_on_commit_callbacks(execute=True):
        letter_delete_request(letter=letter)

    assert letter.deliveries.get().status == Delivery.Status.CANCELLED
    assert OutgoingMail.objects.get(letter=letter, kind="letter").status == "cancelled"


# --- The admin's Council delivery page ------------------------------------------------------------


def test_the_council_delivery_page_counts_sent_due_held_blocked_and_bounced(
    staff_client, settings, django_capture_on_commit_callbacks
):
    settings.LETTERS_PER_RECIPIENT_HOUR = 20
    paced = council(1, name="Barrie")
    for name in ("Ann", "Bob", "Cat"):  # one sent, two due
        confirm(letter_to(paced, first_name=name), django_capture_on_commit_callbacks)
    bounced = confirm(letter_to(paced, first_name="Dan"), django_capture_on_commit_callbacks)
    Delivery.objects.filter(letter=bounced).update(status=Delivery.Status.BOUNCED)
    blocked = council(2, name="Minneapolis")
    municipality = blocked[0].municipality
    municipality.mail_blocked_at = timezone.now()
    municipality.mail_block_reason = BLOCK
    municipality.save()
    confirm(letter_to(blocked), django_capture_on_commit_callbacks)
    confirm(letter_to(blocked, is_test=True), django_capture_on_commit_callbacks)  # not counted

    response = staff_client.get(reverse("admin:letters_council_delivery"))

    assert response.status_code == 200
    rows = {row["municipality"].name: row for row in response.context["rows"]}
    counts = {
        name: (row["sent"], row["due"], row["held"], row["bounced"]) for name, row in rows.items()
    }
    assert counts == {"Barrie": (1, 2, 0, 1), "Minneapolis": (0, 0, 2, 0)}
    html = response.content.decode()
    # The blocking council comes first, with its reason and the button that resumes it.
    assert html.index("Minneapolis") < html.index("Barrie")
    assert "Blocks our mail since" in html
    assert "blocked by policy" in html
    assert reverse("admin:letters_council_resume", args=[municipality.pk]) in html


def test_each_count_on_the_council_delivery_page_opens_those_deliveries(
    staff_client, settings, django_capture_on_commit_callbacks
):
    settings.LETTERS_PER_RECIPIENT_HOUR = 20
    barrie = council(1, name="Barrie")
    for name in ("Ann", "Bob", "Cat"):  # one sent, two due
        confirm(letter_to(barrie, first_name=name), django_capture_on_commit_callbacks)
    elsewhere = council(1, name="Orillia")  # the same statuses on another council
    confirm(letter_to(elsewhere), django_capture_on_commit_callbacks)
    confirm(letter_to(elsewhere), django_capture_on_commit_callbacks)
    confirm(letter_to(barrie, is_test=True), django_capture_on_commit_callbacks)  # not counted

    html = staff_client.get(reverse("admin:letters_council_delivery")).content.decode()
    row = html[html.index("Barrie") :].split("</tr>")[0]
    links = {
        text: href.replace("&amp;", "&")
        for href, text in re.findall(r'<a href="([^"]+)">(\d+)</a>', row)
    }

    assert set(links) == {"1", "2"}  # sent and due; nothing held, bounced or failed
    due = staff_client.get(links["2"])
    assert due.status_code == 200
    shown = list(due.context["cl"].result_list)
    assert len(shown) == 2
    assert {d.letter.municipality.name for d in shown} == {"Barrie"}
    assert {d.status for d in shown} == {Delivery.Status.QUEUED}
    sent = list(staff_client.get(links["1"]).context["cl"].result_list)
    assert [(d.letter.first_name, d.status) for d in sent] == [("Ann", Delivery.Status.SENT)]


def test_resuming_from_the_page_releases_the_council(
    staff_client, django_capture_on_commit_callbacks
):
    reps = council(1, name="Minneapolis")
    municipality = reps[0].municipality
    municipality.mail_blocked_at = timezone.now()
    municipality.save()
    letter = confirm(letter_to(reps), django_capture_on_commit_callbacks)

    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(
            reverse("admin:letters_council_resume", args=[municipality.pk])
        )

    assert response.status_code == 302
    municipality.refresh_from_db()
    assert municipality.mail_blocked_at is None
    assert letter.deliveries.get().status == Delivery.Status.SENT


def test_the_council_delivery_page_needs_permission(client, user):
    url = reverse("admin:letters_council_delivery")
    assert client.get(url).status_code == 302  # to the login page
    user.is_staff = True
    user.save()
    client.force_login(user)
    assert client.get(url).status_code == 403
    assert client.post(reverse("admin:letters_council_resume", args=[1])).status_code == 403


def test_the_council_delivery_page_rejects_post(staff_client):
    assert staff_client.post(reverse("admin:letters_council_delivery")).status_code == 405
