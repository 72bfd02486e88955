"""Putting a letter together from the campaign template and what the resident chose.

The server always rebuilds the letter from the campaign: whatever a browser posts, only the
parts the campaign's editing mode opens (personal message, talking points, and in fully
editable campaigns the subject and template part) come from the resident.
"""

from dataclasses import dataclass, field

from django.utils import translation
from django.utils.translation import gettext as _
from localflavor.ca.ca_provinces import PROVINCE_CHOICES

from campaigns.models import (
    COUNCIL_RECIPIENT_NAME,
    COUNCIL_RECIPIENT_TITLE,
    COUNCIL_SALUTATION,
    ONE_SALUTATION,
    Campaign,
    TalkingPoint,
    join_paragraphs,
    render_letter_template,
    split_at_personal_part,
)
from councils.models import Municipality, Representative

# Limits shown next to the fields (and enforced by the form and the service).
PERSONAL_MESSAGE_MAX = 2000
SUBJECT_MAX = 200
BODY_MAX = 10000


@dataclass
class Sender:
    first_name: str
    last_name: str
    postal_code: str
    street_address: str = ""

    @property
    def name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()


@dataclass
class ComposedLetter:
    subject: str
    body: str
    # The template part alone (what a fully editable campaign lets the resident rewrite).
    template_part: str
    talking_point_ids: list[int] = field(default_factory=list)
    # The body around the resident's own words: body is before, the personal part and after,
    # one blank line apart (the letter step fills the personal part in as the resident types).
    before_personal: str = ""
    after_personal: str = ""


def single_line(value: str) -> str:
    """Collapse every run of whitespace, line breaks included, into one space."""
    return " ".join((value or "").split())


def pick_subject(*, campaign: Campaign, index: int) -> str:
    subjects = campaign.subject_list()
    if not subjects:
        return ""
    return subjects[index % len(subjects)]


def template_context(
    *,
    campaign: Campaign,
    municipality: Municipality,
    recipients: list[Representative],
    sender: Sender,
    language: str,
) -> dict[str, str]:
    """Values for the campaign's {placeholders}.

    One letter text goes to every recipient, so with several recipients the greeting names
    the council as a whole ("Dear Mayor and Council").
    """
    with translation.override(language):
        name = municipality.display_name(language)
        if len(recipients) == 1:
            recipient_name = recipients[0].name
            recipient_title = recipients[0].title
            salutation = ONE_SALUTATION % {"name": recipient_name}
        else:
            recipient_name = COUNCIL_RECIPIENT_NAME
            recipient_title = COUNCIL_RECIPIENT_TITLE
            salutation = COUNCIL_SALUTATION
        return {
            "municipality": name,
            "council": municipality.organization_name or _("Council of %(name)s") % {"name": name},
            "province": str(dict(PROVINCE_CHOICES).get(municipality.province, "")),
            "salutation": str(salutation),
            "recipient_name": str(recipient_name),
            "recipient_title": str(recipient_title),
            "sender_name": single_line(sender.name) or _("[your name]"),
            "sender_first_name": single_line(sender.first_name) or _("[your first name]"),
            "postal_code": sender.postal_code or _("[your postal code]"),
        }


# Sender placeholders stay as typed in the editable text and are filled by plain replacement:
# resident text never goes through str.format (no attribute lookups from user input).
SENDER_PLACEHOLDERS = ("sender_name", "sender_first_name", "postal_code")


def editable_defaults(
    *,
    campaign: Campaign,
    municipality: Municipality,
    recipients: list[Representative],
    language: str,
) -> dict[str, str]:
    """The subject and template part a fully editable campaign starts the resident with."""
    context = template_context(
        campaign=campaign,
        municipality=municipality,
        recipients=recipients,
        sender=Sender("", "", ""),
        language=language,
    )
    for name in SENDER_PLACEHOLDERS:
        context.pop(name)
    return {
        "subject": render_letter_template(pick_subject(campaign=campaign, index=0), context),
        "body": render_letter_template(campaign.letter_template, context).strip(),
    }


def _fill_sender(text: str, context: dict[str, str]) -> str:
    for name in SENDER_PLACEHOLDERS:
        text = text.replace("{" + name + "}", context[name])
    return text


def compose_letter(
    *,
    campaign: Campaign,
    municipality: Municipality,
    recipients: list[Representative],
    sender: Sender,
    language: str,
    subject_index: int = 0,
    personal_message: str = "",
    talking_points: list[TalkingPoint] | None = None,
    subject: str = "",
    template_part: str = "",
) -> ComposedLetter:
    """The exact subject and text of a letter.

    subject and template_part are only honoured for fully editable campaigns; the personal
    message and talking points are dropped for locked ones. The campaign must be read in the
    letter's language (translation.override) so its translated fields come out right.
    Resident text is never passed through the placeholder formatter.
    """
    mode = campaign.editing_mode
    context = template_context(
        campaign=campaign,
        municipality=municipality,
        recipients=recipients,
        sender=sender,
        language=language,
    )
    default_subject = render_letter_template(
        pick_subject(campaign=campaign, index=subject_index), context
    )
    default_template_part = render_letter_template(campaign.letter_template, context).strip()
    if mode == Campaign.EditingMode.EDITABLE:
        subject = _fill_sender(single_line(subject), context)[:SUBJECT_MAX] or default_subject
        template_part = (template_part or "").replace("\r\n", "\n").strip()[:BODY_MAX]
        template_part = _fill_sender(template_part, context) or default_template_part
    else:
        subject, template_part = default_subject, default_template_part
    if mode == Campaign.EditingMode.LOCKED:
        personal_message, talking_points = "", []
    personal_message = (personal_message or "").replace("\r\n", "\n").strip()
    personal_message = personal_message[:PERSONAL_MESSAGE_MAX]
    talking_points = list(talking_points or [])

    # The resident's words go inside the letter, after its opening (split_at_personal_part).
    before, after = split_at_personal_part(template_part)
    parts = [after]
    footnotes = []
    with translation.override(language):
        if talking_points:
            lines = []
            for point in talking_points:
                text = point.text.strip()
                if point.citation_id:
                    footnotes.append(point.citation)
                    text = f"{text} [{len(footnotes)}]"
                lines.append(f"- {text}")
            parts.append(_("Some facts for council to consider:") + "\n" + "\n".join(lines))
        signature = [single_line(sender.name)]
        if sender.street_address:
            signature.append(single_line(sender.street_address))
        signature.append(
            ", ".join(
                value
                for value in (sender.postal_code, municipality.display_name(language))
                if value
            )
        )
        parts.append(_("Sincerely,") + "\n\n" + "\n".join(line for line in signature if line))
        if footnotes:
            parts.append(
                _("Sources:")
                + "\n"
                + "\n".join(
                    f"[{number}] {citation_line(citation)}"
                    for number, citation in enumerate(footnotes, 1)
                )
            )
    after = join_paragraphs(*parts)
    return ComposedLetter(
        subject=single_line(subject)[:SUBJECT_MAX],
        body=join_paragraphs(before, personal_message, after),
        template_part=template_part,
        talking_point_ids=[point.pk for point in talking_points],
        before_personal=before,
        after_personal=after,
    )


def citation_line(citation) -> str:
    pieces = [citation.title]
    if citation.publisher:
        pieces.append(citation.publisher)
    if citation.published_on:
        pieces.append(citation.published_on.isoformat())
    line = ", ".join(pieces)
    if citation.url:
        line = f"{line}. {citation.url}"
    return line
