"""Bounces by mail (manage.py process_bounces): a bounce sent to an email's VERP return path
is matched to its delivery and recorded as an ESP's bounce event would be."""

import io
import sys
from pathlib import Path
from string import Template

import pytest
from django.core.management import CommandError, call_command
from django.db import OperationalError

from campaigns.models import Campaign
from letters.bounces import bounced_mail_id, message_parse, recipient_reports
from letters.delivery_events import BounceOutcome, bounce_process
from letters.emails import bounce_address
from letters.models import Delivery, OutgoingMail
from letters.services import letter_queue
from tests.factories import CampaignFactory
from tests.letters.delivery_helpers import make_letter, use_smtp
from tests.letters.smtp_server import SMTPServer

pytestmark = pytest.mark.django_db

FIXTURES = Path(__file__).parent / "fixtures"

# A DSN as an MTA writes it; Status and Diagnostic-Code per recipient.
DSN = Template("""\
Return-Path: <>
Date: Tue, 17 Nov 2026 14:02:11 -0500
From: Mail Delivery System <MAILER-DAEMON@mx.letters.example.org>
To: ${to}
Subject: Delivery Status Notification (Failure)
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="=_dsn_01"

--=_dsn_01
Content-Type: text/plain; charset=us-ascii

Your message to ${recipient} could not be delivered.

--=_dsn_01
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.letters.example.org
Arrival-Date: Tue, 17 Nov 2026 14:02:10 -0500

Final-Recipient: rfc822; ${recipient}
Action: ${action}
Status: ${status}
Diagnostic-Code: ${diagnostic}

--=_dsn_01
Content-Type: text/rfc822-headers

From: "Jane Resident via Test Org" <letters@example.org>
To: ${recipient}
Subject: Please act

--=_dsn_01--
""")


def dsn(
    to: str,
    recipient: str,
    *,
    status: str = "5.1.1",
    diagnostic: str = "smtp; 550 5.1.1 user unknown",
    action: str = "failed",
) -> bytes:
    return DSN.substitute(
        to=to, recipient=recipient, status=status, diagnostic=diagnostic, action=action
    ).encode()


def fixture(name: str, *, mail: OutgoingMail, recipient: str) -> bytes:
    """A hand-written sample bounce, sent to this email's return path about this recipient."""
    text = (FIXTURES / name).read_text()
    return (
        Template(text)
        .substitute(
            bounce_address=bounce_address(mail), recipient=recipient, message_id=mail.message_id
        )
        .encode()
    )


@pytest.fixture(autouse=True)
def _bounce_address(settings):
    settings.BOUNCE_ADDRESS = "bounces@letters.example.org"


def sent_letter(*, recipients: int = 1, campaign=None, municipality=None):
    """A letter whose email went out to the council: one email for its deliveries."""
    letter = make_letter(recipients=recipients, campaign=campaign)
    if municipality is not None:
        letter.municipality = municipality
        letter.save()
    mail = OutgoingMail.objects.create(
        kind=OutgoingMail.Kind.LETTER,
        letter=letter,
        campaign=letter.campaign,
        status=OutgoingMail.Status.SENT,
        message_id=f"<letter.{letter.pk}.0a1b2c3d@example.org>",
    )
    letter.deliveries.update(mail=mail, status=Delivery.Status.SENT)
    return letter, mail


def run(*files, **options) -> str:
    out = io.StringIO()
    call_command("process_bounces", *files, stdout=out, **options)
    return out.getvalue()


def write(tmp_path, data: bytes, name: str = "bounce.eml") -> str:
    path = tmp_path / name
    path.write_bytes(data)
    return str(path)


# --- Reading ------------------------------------------------------------------------------------


def test_it_reads_the_status_and_diagnostic_of_each_recipient():
    message = message_parse(dsn("bounces+1.x@letters.example.org", "Rep@Council.example.org"))

    (report,) = recipient_reports(message)

    assert report.address == "rep@council.example.org"
    assert report.permanent
    assert report.status == "5.1.1"
    assert report.diagnostic == "550 5.1.1 user unknown"


def test_it_finds_the_return_path_in_the_mta_headers_or_the_envelope_recipient():
    _letter, mail = sent_letter()
    verp = bounce_address(mail)
    by_header = message_parse(
        f"Delivered-To: {verp}\nTo: MAILER-DAEMON <postmaster@example.org>\n\nx".encode()
    )
    by_envelope = message_parse(b"To: bounces@letters.example.org\n\nx")

    assert bounced_mail_id(by_header) == mail.pk
    assert bounced_mail_id(by_envelope) is None
    assert bounced_mail_id(by_envelope, recipient=verp) == mail.pk


# --- Recording ----------------------------------------------------------------------------------


def test_a_dsn_to_a_verp_address_marks_its_delivery_bounced_and_counts_a_hard_bounce(tmp_path):
    letter, mail = sent_letter()
    delivery = letter.deliveries.get()

    out = run(write(tmp_path, dsn(bounce_address(mail), delivery.recipient_email)))

    assert out.startswith("Read 1 messages: 1 bounced,")
    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.BOUNCED
    assert delivery.failure == Delivery.Failure.MAILBOX_UNKNOWN
    assert delivery.last_error == "Bounced (5.1.1): 550 5.1.1 user unknown"
    delivery.representative.refresh_from_db()
    assert delivery.representative.bounce_count == 1


def test_the_same_bounce_twice_counts_once(tmp_path):
    letter, mail = sent_letter()
    delivery = letter.deliveries.get()
    path = write(tmp_path, dsn(bounce_address(mail), delivery.recipient_email))

    run(path)
    run(path)

    delivery.representative.refresh_from_db()
    assert delivery.representative.bounce_count == 1


def test_a_policy_dsn_blocks_the_council_and_holds_its_other_queued_emails():
    letter, mail = sent_letter()
    delivery = letter.deliveries.get()
    waiting, _sent = sent_letter(municipality=letter.municipality)
    queued = OutgoingMail.objects.create(
        kind=OutgoingMail.Kind.LETTER,
        letter=waiting,
        campaign=waiting.campaign,
        status=OutgoingMail.Status.QUEUED,
    )
    waiting.deliveries.update(mail=queued, status=Delivery.Status.QUEUED)

    outcome = bounce_process(
        data=fixture("postfix-policy-block.eml", mail=mail, recipient=delivery.recipient_email)
    )

    assert outcome == BounceOutcome.BOUNCED
    delivery.refresh_from_db()
    assert (delivery.status, delivery.failure) == (Delivery.Status.BOUNCED, "blocked")
    assert "blocked using zen.spamhaus.org" in delivery.last_error
    letter.municipality.refresh_from_db()
    assert letter.municipality.mail_blocked_at is not None
    assert "5.7.1" in letter.municipality.mail_block_reason
    queued.refresh_from_db()
    assert queued.status == OutgoingMail.Status.HELD
    assert waiting.deliveries.get().status == Delivery.Status.HELD
    delivery.representative.refresh_from_db()
    assert delivery.representative.bounce_count == 0  # the address is not at fault


def test_a_delayed_dsn_changes_nothing(caplog):
    letter, mail = sent_letter()
    delivery = letter.deliveries.get()
    data = dsn(
        bounce_address(mail),
        delivery.recipient_email,
        action="delayed",
        status="4.4.7",
        diagnostic="smtp; 451 4.4.7 Delivery time expired, still trying",
    )

    with caplog.at_level("INFO", logger="letters.services"):
        assert bounce_process(data=data) == BounceOutcome.DELAYED

    delivery.refresh_from_db()
    assert (delivery.status, delivery.failure, delivery.last_error) == ("sent", "", "")
    delivery.representative.refresh_from_db()
    assert delivery.representative.bounce_count == 0
    assert "delayed: 4.4.7" in caplog.text


def test_a_sendmail_delay_warning_changes_nothing():
    letter, mail = sent_letter()
    delivery = letter.deliveries.get()

    outcome = bounce_process(
        data=fixture("sendmail-delayed.eml", mail=mail, recipient=delivery.recipient_email)
    )

    assert outcome == BounceOutcome.DELAYED
    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.SENT


def test_a_forged_verp_signature_is_ignored_and_counted(tmp_path):
    letter, mail = sent_letter()
    delivery = letter.deliveries.get()
    forged = f"bounces+{mail.pk}.0123456789@letters.example.org"

    out = run(write(tmp_path, dsn(forged, delivery.recipient_email)))

    assert "0 bounced" in out
    assert "1 not ours" in out
    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.SENT
    delivery.representative.refresh_from_db()
    assert delivery.representative.bounce_count == 0


def test_a_bounce_for_an_email_that_is_gone_is_ignored():
    letter, mail = sent_letter()
    address = bounce_address(mail)
    recipient = letter.deliveries.get().recipient_email
    OutgoingMail.objects.filter(pk=mail.pk).delete()

    assert bounce_process(data=dsn(address, recipient)) == BounceOutcome.NOT_OURS


def test_an_autoreply_to_the_return_path_is_ignored():
    letter, mail = sent_letter()
    delivery = letter.deliveries.get()

    outcome = bounce_process(
        data=fixture("autoreply.eml", mail=mail, recipient=delivery.recipient_email)
    )

    assert outcome == BounceOutcome.NOT_A_BOUNCE
    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.SENT


def test_a_postfix_dsn_is_an_unknown_mailbox():
    letter, mail = sent_letter()
    delivery = letter.deliveries.get()

    outcome = bounce_process(
        data=fixture("postfix-user-unknown.eml", mail=mail, recipient=delivery.recipient_email)
    )

    assert outcome == BounceOutcome.BOUNCED
    delivery.refresh_from_db()
    assert (delivery.status, delivery.failure) == (Delivery.Status.BOUNCED, "unknown")
    assert "Recipient address rejected: User unknown in virtual mailbox table" in (
        delivery.last_error
    )


def test_an_exchange_online_ndr_is_an_unknown_mailbox():
    letter, mail = sent_letter()
    delivery = letter.deliveries.get()

    outcome = bounce_process(
        data=fixture(
            "exchange-recipient-not-found.eml", mail=mail, recipient=delivery.recipient_email
        )
    )

    assert outcome == BounceOutcome.BOUNCED
    delivery.refresh_from_db()
    assert (delivery.status, delivery.failure) == (Delivery.Status.BOUNCED, "unknown")
    assert delivery.last_error.startswith("Bounced (5.1.10): 550 5.1.10 RESOLVER.ADR.")
    delivery.representative.refresh_from_db()
    assert delivery.representative.bounce_count == 1


def test_only_the_recipient_a_whole_council_bounce_names_is_marked():
    campaign = CampaignFactory(send_mode=Campaign.SendMode.TOGETHER)
    letter, mail = sent_letter(recipients=3, campaign=campaign)
    bounced, *others = letter.deliveries.order_by("pk")

    bounce_process(data=dsn(bounce_address(mail), bounced.recipient_email.upper()))

    bounced.refresh_from_db()
    assert bounced.status == Delivery.Status.BOUNCED
    assert {other.status for other in Delivery.objects.filter(pk__in=[o.pk for o in others])} == {
        Delivery.Status.SENT
    }


def test_a_bounce_naming_a_forwarding_address_is_its_single_recipients():
    """The council forwarded the mayor's mail to an address that no longer exists: the email
    (one recipient, named by its return path) did not reach the mayor."""
    letter, mail = sent_letter()
    delivery = letter.deliveries.get()

    bounce_process(data=dsn(bounce_address(mail), "j.smith.old@council.example.org"))

    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.BOUNCED


def test_a_bounce_naming_none_of_several_recipients_changes_nothing():
    campaign = CampaignFactory(send_mode=Campaign.SendMode.TOGETHER)
    letter, mail = sent_letter(recipients=2, campaign=campaign)

    outcome = bounce_process(data=dsn(bounce_address(mail), "someone@elsewhere.example.org"))

    assert outcome == BounceOutcome.UNMATCHED
    assert set(letter.deliveries.values_list("status", flat=True)) == {Delivery.Status.SENT}


def test_the_envelope_recipient_from_the_mta_names_the_email(tmp_path):
    letter, mail = sent_letter()
    delivery = letter.deliveries.get()
    data = dsn("postmaster@letters.example.org", delivery.recipient_email)

    run(write(tmp_path, data), recipient=bounce_address(mail))

    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.BOUNCED


def test_it_reads_one_message_from_standard_input(monkeypatch):
    letter, mail = sent_letter()
    delivery = letter.deliveries.get()
    data = fixture("postfix-user-unknown.eml", mail=mail, recipient=delivery.recipient_email)
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))

    out = run()

    assert out.startswith("Read 1 messages: 1 bounced,")
    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.BOUNCED


def test_it_reads_several_files_and_counts_each_outcome(tmp_path):
    letter, mail = sent_letter()
    recipient = letter.deliveries.get().recipient_email
    files = [
        write(tmp_path, fixture(name, mail=mail, recipient=recipient), name)
        for name in ("postfix-user-unknown.eml", "sendmail-delayed.eml", "autoreply.eml")
    ]
    files.append(write(tmp_path, dsn("bounces+1.forged@letters.example.org", recipient), "f"))

    out = run(*files)

    assert out == (
        "Read 4 messages: 1 bounced, 1 delayed, 1 not a bounce, 1 not ours, 0 unmatched\n"
    )


def test_it_asks_the_mta_to_try_again_when_the_database_is_down(tmp_path, monkeypatch):
    def database_down(**kwargs):
        raise OperationalError("connection refused")

    monkeypatch.setattr("letters.management.commands.process_bounces.bounce_process", database_down)

    with pytest.raises(CommandError) as raised:
        run(write(tmp_path, b"To: x@example.org\n\nx"))

    assert raised.value.returncode == 75  # EX_TEMPFAIL


def test_a_letter_sent_through_smtp_is_matched_by_its_envelope_sender(
    settings, django_capture_on_commit_callbacks, monkeypatch
):
    """End to end: the return path the SMTP server saw in MAIL FROM names the email."""
    server = SMTPServer().start()
    try:
        use_smtp(settings, server.port)
        letter = make_letter(recipients=1)
        with django_capture_on_commit_callbacks(execute=True):
            letter_queue(letter=letter)
        (received,) = server.recorder.received
    finally:
        server.stop()
    delivery = letter.deliveries.get()
    assert delivery.status == Delivery.Status.SENT
    assert received.mail_from.startswith("bounces+")
    assert received.mail_from.endswith("@letters.example.org")
    data = dsn(received.mail_from, delivery.recipient_email)
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))

    out = run()

    assert out.startswith("Read 1 messages: 1 bounced,")
    delivery.refresh_from_db()
    assert (delivery.status, delivery.failure) == (Delivery.Status.BOUNCED, "unknown")
    delivery.representative.refresh_from_db()
    assert delivery.representative.bounce_count == 1
