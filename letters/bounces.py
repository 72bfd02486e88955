"""Bounce messages that arrive by mail, read: which of our emails a bounce is about, and what
it reports for each recipient. Reading only: letters.delivery_events.bounce_process records it.

Every email to a council leaves with a return path of its own (letters.emails.bounce_address,
VERP): bounces+<id>.<signature>@domain. A bounce goes back to that address, so the address
names the email, and its signature tells it from a forged one.

flufl.bounce (Mailman's detectors) finds the recipients a bounce reports as failed or delayed,
in RFC 3464 delivery status notifications (DSNs) and in the formats of MTAs that do not follow
it. What each recipient's report says (Status, Diagnostic-Code) is read from the DSN's
message/delivery-status part as the email package parses it: one block of fields per
recipient.
"""

import email
import email.policy
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import getaddresses

import flufl.bounce

from .emails import bounce_mail_id

# Where the return path a bounce was sent to can be read, most trustworthy first: the MTA
# adds Delivered-To and X-Original-To on delivery (Postfix); To is the bounce's own header.
RETURN_PATH_HEADERS = ("Delivered-To", "X-Original-To", "To")


@dataclass(frozen=True)
class RecipientReport:
    """What a bounce says about one recipient of the email."""

    # The recipient's address, lower case, as the bounce names it (original recipient first).
    address: str
    # A permanent failure (a 5.x.x status); else delayed, or failed for now (4.x.x).
    permanent: bool
    # The DSN's Status ("5.1.1"), and the Diagnostic-Code's text without its type
    # ("550 5.1.1 user unknown"); empty when the bounce is not a DSN.
    status: str = ""
    diagnostic: str = ""


@dataclass(frozen=True)
class _DSNFields:
    status: str
    diagnostic: str


def message_parse(data: bytes) -> EmailMessage:
    """The message as the email package reads it (RFC 5322 bytes, as the MTA delivered it)."""
    return email.message_from_bytes(data, policy=email.policy.default)


def bounced_mail_id(message: EmailMessage, *, recipient: str = "") -> int | None:
    """The id of the email (OutgoingMail) whose return path this bounce was sent to: the
    envelope recipient the MTA passed (recipient), else the first address in Delivered-To,
    X-Original-To or To that is one of ours with a valid signature. None when none is."""
    candidates = [recipient] if recipient else []
    for header in RETURN_PATH_HEADERS:
        values = [str(value) for value in message.get_all(header, [])]
        candidates += [address for _name, address in getaddresses(values) if address]
    for address in candidates:
        mail_id = bounce_mail_id(address)
        if mail_id is not None:
            return mail_id
    return None


def recipient_reports(message: EmailMessage) -> list[RecipientReport]:
    """What the bounce reports for each recipient it names as failed or delayed; empty when
    it is not a bounce (an autoreply, a person's answer, a DSN that reports success)."""
    delayed, failed = flufl.bounce.all_failures(message)
    fields = _dsn_fields(message)
    reports = []
    for address in sorted(_addresses(failed | delayed)):
        found = fields.get(address)
        if found is not None and found.status:
            permanent = found.status.startswith("5")
        else:
            # Not a DSN (a heuristic detector found it): the detector tells.
            permanent = address.encode() in failed
        reports.append(
            RecipientReport(
                address=address,
                permanent=permanent,
                status=found.status if found else "",
                diagnostic=found.diagnostic if found else "",
            )
        )
    return reports


def _addresses(found: frozenset[bytes]) -> set[str]:
    return {address.decode("ascii").lower() for address in found}


def _dsn_fields(message: EmailMessage) -> dict[str, _DSNFields]:
    """The Status and Diagnostic-Code of each per-recipient block of the message's
    message/delivery-status parts, by the recipient's address (original and final)."""
    fields = {}
    for part in message.walk():
        if part.get_content_type() != "message/delivery-status" or not part.is_multipart():
            continue
        # The first block holds the per-message fields (Reporting-MTA, Arrival-Date, ...).
        for block in part.get_payload()[1:]:
            found = _DSNFields(
                status=_field(block, "Status").split(" ")[0],
                diagnostic=_typed_value(_field(block, "Diagnostic-Code")),
            )
            for name in ("Original-Recipient", "Final-Recipient"):
                address = _typed_value(_field(block, name)).strip("<>").lower()
                if address:
                    fields.setdefault(address, found)
    return fields


def _field(block, name: str) -> str:
    """A field's value on one line (long diagnostics are folded)."""
    return " ".join(str(block.get(name, "")).split())


def _typed_value(value: str) -> str:
    """The value of a typed DSN field without its type: "rfc822; a@b" and "smtp; 550 ..."."""
    kind, semicolon, rest = value.partition(";")
    return rest.strip() if semicolon else kind.strip()
