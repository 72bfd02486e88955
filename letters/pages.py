"""What each step of the resident's journey shows: the council chosen, the letter form, the
picker's choices, the preview, the thank-you page; and Send, handed to letters.services.

Views call these with the draft (letters.drafts); nothing here writes the session.
"""

import re
from collections import Counter
from dataclasses import dataclass
from datetime import time, timedelta
from urllib.parse import quote

from django.conf import settings
from django.http import QueryDict
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from localflavor.ca.ca_provinces import PROVINCE_CHOICES

from campaigns.models import Campaign
from campaigns.selectors import citation_numbers
from councils.models import (
    OFFICE_CLOSES,
    OFFICE_OPENS,
    Municipality,
    Representative,
    Ward,
    search_key,
    time_zone_name,
)
from councils.selectors import municipality_choices, recipients_for

from . import bundles, drafts, emails, near_duplicates, services
from .client_address import client_ip
from .composition import (
    BODY_MAX,
    PERSONAL_MESSAGE_MAX,
    Sender,
    compose_letter,
    editable_defaults,
    single_line,
)
from .forms import LetterForm, MunicipalityForm, ReplyForm
from .models import Delivery, Letter, Reply
from .selectors import SENT_STATUSES, personal_part_near_duplicate

PICKER_LIMIT = 400


@dataclass
class CouncilState:
    postal_code: str
    municipality: Municipality
    ward: Ward | None
    representatives: list[Representative]


@dataclass
class Picker:
    """The municipality picker as shown: its form (radios or a select), a notice (a search
    that matched nothing), and whether the whole list is on screen."""

    form: MunicipalityForm
    notice: str = ""
    showing_all: bool = False
    province_name: str = ""


def municipality_picker(
    draft: dict, *, query: str = "", show_all: bool = False, data=None
) -> Picker:
    """The picker for the lookup in draft: its suggestions alone (a short list) unless the
    resident asks for every municipality of the province or searches by name; a search that
    matches nothing says so and lists the whole province. Each municipality appears once;
    one that alone fits (the only choice, the only suggestion, the only exact name) comes
    preselected. data: a pick to validate against everything the picker can offer."""
    language = translation.get_language()
    province = draft.get("province")
    province_name = str(dict(PROVINCE_CHOICES).get(province, "")) if province else ""
    suggested = _suggestions(draft)
    notice, initial, groups = "", None, []
    key = search_key(query)
    if key:
        found = list(_listed(province, query))
        if found:
            groups = [(None, _options(found, language, with_province=not province))]
            exact = [m for m in found if key in m.search_name.split(" | ")]
            initial = str(exact[0].pk) if len(exact) == 1 else None
        else:
            substitutions = {"query": query, "province": province_name}
            notice = (
                _("No municipality matches “%(query)s” in %(province)s.") % substitutions
                if province
                else _("No municipality matches “%(query)s”.") % substitutions
            )
            show_all = True
    if not groups:
        show_all = show_all or not suggested
        if suggested:
            groups.append((_("Suggested for your postal code"), _options(suggested, language)))
        if show_all:
            shown = {m.pk for m, _ward in suggested}
            rest = [m for m in _listed(province, "") if m.pk not in shown]
            title = province_name or _("All municipalities")
            groups.append((title, _options(rest, language, with_province=not province)))
        if len(suggested) == 1:
            initial = groups[0][1][0][0]
    options = [option for _title, group in groups for option in group]
    if len(options) == 1:
        initial = options[0][0]
    form = MunicipalityForm(
        data,
        groups=groups,
        offered=lambda value: _offered(draft, value),
        initial={"municipality": initial} if initial else None,
    )
    if suggested and not key and not show_all:
        # Inside the field's fieldset, so screen readers announce it with the choices.
        form.fields["municipality"].help_text = _("Suggested for your postal code")
    return Picker(form, notice=notice, showing_all=show_all, province_name=province_name)


def _suggestions(draft: dict) -> list[tuple[Municipality, Ward | None]]:
    """The lookup's candidates, each municipality once (the first ward named for it)."""
    pairs, seen = [], set()
    values = draft.get("candidates") or []
    municipality_ids = [int(value.partition(":")[0]) for value in values]
    ward_ids = [int(value.partition(":")[2]) for value in values if ":" in value]
    municipalities = Municipality.objects.select_related("upper_tier").in_bulk(municipality_ids)
    wards = Ward.objects.in_bulk(ward_ids)
    for value in values:
        municipality_id, _sep, ward_id = value.partition(":")
        municipality = municipalities.get(int(municipality_id))
        if municipality is None or municipality.pk in seen:
            continue
        seen.add(municipality.pk)
        pairs.append((municipality, wards.get(int(ward_id)) if ward_id else None))
    return pairs


def _listed(province: str | None, query: str):
    listed = municipality_choices(province=province, query=query, upper_tiers=False)
    listed = listed.select_related("upper_tier")
    # Every municipality of a province (Québec has over a thousand); a cut only without one.
    return listed if province else listed[:PICKER_LIMIT]


def _options(items, language: str, *, with_province: bool = False) -> list[tuple[str, str]]:
    """(value, label) for municipalities or (municipality, ward) pairs. Two places of one
    name are told apart by their kind and upper tier: "Hamilton (township, Northumberland)"."""
    pairs = [item if isinstance(item, tuple) else (item, None) for item in items]
    names = Counter(m.display_name(language) for m, _ward in pairs)
    options = []
    for municipality, ward in pairs:
        name = municipality.display_name(language)
        details = []
        if names[name] > 1:
            details.append(municipality.kind)
            if municipality.upper_tier_id:
                details.append(municipality.upper_tier.display_name(language))
        if with_province:
            details.append(municipality.province)
        label = f"{name} ({', '.join(d for d in details if d)})" if any(details) else name
        if ward is not None:
            # French puts a space before the colon: « Gatineau : district de Deschênes ».
            label = _("%(municipality)s: %(ward)s") % {"municipality": label, "ward": ward.name}
            options.append((f"{municipality.pk}:{ward.pk}", label))
        else:
            options.append((str(municipality.pk), label))
    return options


def _offered(draft: dict, value: str) -> bool:
    """Whether the picker can offer value for this draft: one of the lookup's suggestions, or
    any municipality it lists for the province."""
    if value in (draft.get("candidates") or []):
        return True
    if not (value.isascii() and value.isdigit()) or len(value) > 18:
        return False
    listed = municipality_choices(province=draft.get("province"), upper_tiers=False)
    return listed.filter(pk=int(value)).exists()


def council_state(campaign: Campaign, draft: dict) -> CouncilState | None:
    """The council chosen in step 1, with the campaign's recipients there; None when step 1
    is not done (or its municipality is no longer in the directory)."""
    if not draft.get("municipality"):
        return None
    municipality = Municipality.objects.filter(pk=draft["municipality"], active=True).first()
    if municipality is None:
        return None
    ward = (
        Ward.objects.filter(pk=draft["ward"], municipality=municipality).first()
        if draft.get("ward")
        else None
    )
    representatives = recipients_for(
        municipality=municipality, ward=ward, **campaign.recipient_rule()
    )
    return CouncilState(draft.get("postal_code", ""), municipality, ward, list(representatives))


def _talking_points(campaign: Campaign):
    numbers = citation_numbers(campaign)
    return [(point, numbers.get(point.citation_id)) for point in campaign.talking_points.all()]


def letter_form(campaign: Campaign, state: CouncilState, *, data=None) -> LetterForm:
    language = translation.get_language()
    initial = {}
    if campaign.editing_mode == Campaign.EditingMode.EDITABLE:
        initial = editable_defaults(
            campaign=campaign,
            municipality=state.municipality,
            recipients=[rep for rep in state.representatives if rep.can_email],
            language=language,
        )
    return LetterForm(
        data or None,
        initial=initial,
        campaign=campaign,
        representatives=state.representatives,
        talking_points=_talking_points(campaign),
        consent_help=services.consent_explanation(campaign=campaign, language=language),
        hold_help=services.hold_explanation(campaign=campaign, language=language),
    )


def _chosen(form: LetterForm, state: CouncilState) -> list[Representative]:
    chosen = set(form.cleaned_data.get("recipients") or [])
    return [rep for rep in state.representatives if rep.pk in chosen and rep.can_email]


def _compose(campaign, state, form, language, *, subject_index):
    cleaned = form.cleaned_data if form is not None else {}
    points = {point.pk: point for point, _number in _talking_points(campaign)}
    recipients = _chosen(form, state) if form is not None else state.representatives
    return compose_letter(
        campaign=campaign,
        municipality=state.municipality,
        recipients=[rep for rep in recipients if rep.can_email],
        sender=Sender(
            cleaned.get("first_name", ""),
            cleaned.get("last_name", ""),
            state.postal_code,
            cleaned.get("street_address", ""),
        ),
        language=language,
        subject_index=subject_index,
        personal_message=cleaned.get("personal_message", ""),
        talking_points=[points[pk] for pk in cleaned.get("talking_points") or [] if pk in points],
        subject=cleaned.get("subject", ""),
        template_part=cleaned.get("body", ""),
    )


def write_context(campaign, state: CouncilState, form: LetterForm, draft: dict) -> dict:
    return {
        "live_letter": _live_letter(campaign, state, form, draft),
        "campaign": campaign,
        "state": state,
        "form": form,
        "unreachable": [rep for rep in state.representatives if not rep.can_email],
        "emailable": [rep for rep in state.representatives if rep.can_email],
        "talking_points": _talking_points(campaign),
        "personal_max": PERSONAL_MESSAGE_MAX,
        "body_max": BODY_MAX,
        "municipality_name": state.municipality.display_name(translation.get_language()),
        "website": state.municipality.website,
        "roster_checked_at": state.municipality.roster_checked_at,
    }


def _live_letter(
    campaign, state: CouncilState, form: LetterForm, draft: dict, *, data=None
) -> dict | None:
    """The letter around the personal message, for the letter step to show as the resident
    types (static/js/letter-preview.js): the text before and after it, as far as the form
    says (what was typed last, else the bracketed hints), each a list of parts. The parts
    that come from the name and street address fields below the letter are slots the script
    fills in as they are typed. None when the resident cannot write a personal message, or
    writes the whole letter (fully editable campaigns). data, when given, stands for what
    the form holds (live_letter_for_choices)."""
    if "personal_message" not in form.fields or "body" in form.fields:
        return None
    if data is None:
        data = form.data if form.is_bound else {}
    marked = data.copy()  # a QueryDict's copy is mutable
    for name, marker in _SENDER_MARKERS.items():
        marked[name] = marker
    composed = _draft_letter(campaign, state, marked, subject_index=draft.get("subject_index", 0))
    points = {str(point.pk): point for point, _number in _talking_points(campaign)}
    chosen = [points[pk] for pk in map(str, _data_list(data, "talking_points")) if pk in points]
    first, last, street = (
        # As typed, before validation: a NUL (which the form refuses) is dropped here too.
        single_line(str(data.get(name) or "").replace("\x00", ""))
        for name in ("first_name", "last_name", "street_address")
    )
    hints = {"name": _("[your name]"), "first": _("[your first name]")}
    fills = {
        "name": single_line(f"{first} {last}") or hints["name"],
        "first": first or hints["first"],
        "last": last,
        "street": f"{street}\n" if street else "",
    }
    return {
        "before": _sender_slots(composed.before_personal, fills),
        "after": _point_lines(_sender_slots(composed.after_personal, fills), chosen),
        "personal": (data.get("personal_message") or "").strip(),
        "hint": _("[your own words]"),
        "hint_name": hints["name"],
        "hint_first_name": hints["first"],
    }


# What the letter step's live letter may be asked for (live_letter_for_choices): the boxes
# ticked, nothing typed.
LIVE_LETTER_CHOICES = ("recipients", "talking_points")


def live_letter_for_choices(campaign, state: CouncilState, query, draft: dict) -> dict | None:
    """The live letter for the recipients and talking points now ticked on the letter step
    (a query's lists of ids), for letter-preview.js to swap in when they change: the
    greeting, the points and their numbered sources as the preview will have them. Nothing
    the resident typed is in it (the hints stand in; the script fills their words in), so
    only ids travel in the address. Ids that are not this council's or campaign's count for
    nothing, as in a draft. None where the step has no live letter."""
    form = letter_form(campaign, state)  # which fields the step has
    data = QueryDict(mutable=True)
    for name in LIVE_LETTER_CHOICES:
        data.setlist(name, [str(value)[:20] for value in query.getlist(name)])
    return _live_letter(campaign, state, form, draft, data=data)


# What the letter step's letter is composed with in place of the sender's name and street
# address, to find where they go (Django's forms refuse NUL: no campaign text holds one).
_SENDER_MARKERS = {
    "first_name": "\x00first\x00",
    "last_name": "\x00last\x00",
    "street_address": "\x00street\x00",
}
# The full name, the first or last name alone, and the street address with its line end (the
# line goes when the address is empty).
_SENDER_SLOT = re.compile(r"\x00first\x00 \x00last\x00|\x00(first|last)\x00|\x00street\x00\n?")


def _sender_slots(text: str, fills: dict[str, str]) -> list[dict[str, str]]:
    """The text as parts: plain {"text"}, and {"slot", "text"} where a sender's field goes."""
    parts, position = [], 0
    for match in _SENDER_SLOT.finditer(text):
        if match.start() > position:
            parts.append({"text": text[position : match.start()]})
        marker = match.group()
        slot = "name" if " " in marker else ("street" if "street" in marker else match.group(1))
        parts.append({"slot": slot, "text": fills[slot]})
        position = match.end()
    if position < len(text):
        parts.append({"text": text[position:]})
    return parts


def _point_lines(parts: list[dict], points) -> list[dict]:
    """The parts with each chosen talking point's line marked {"point": its id, "text"}, for
    the script to bring the one just ticked into view."""
    lines = {f"- {point.text.strip()}": point.pk for point in points}
    if not lines:
        return parts
    # Longest first, so a point whose text begins another's marks its own line only.
    starts = sorted(lines, key=len, reverse=True)
    line = re.compile("^(" + "|".join(map(re.escape, starts)) + r")[^\n]*", re.MULTILINE)
    marked = []
    for part in parts:
        if "slot" in part:
            marked.append(part)
            continue
        text, position = part["text"], 0
        for match in line.finditer(text):
            if match.start() > position:
                marked.append({"text": text[position : match.start()]})
            marked.append({"point": lines[match.group(1)], "text": match.group()})
            position = match.end()
        if position < len(text):
            marked.append({"text": text[position:]})
    return marked


def personal_part_warning(campaign, state: CouncilState, form: LetterForm) -> bool:
    """Whether to tell the resident, before Send, that their personal message is nearly
    identical to one already sent to the same councillors (a warning, never a block)."""
    if campaign.editing_mode == Campaign.EditingMode.LOCKED:
        return False
    return personal_part_near_duplicate(
        fingerprint=near_duplicates.fingerprint(form.cleaned_data.get("personal_message", "")),
        municipality_id=state.municipality.pk,
        representative_ids=[rep.pk for rep in _chosen(form, state)],
    )


@dataclass(frozen=True)
class DeliverySchedule:
    """When letters reach a council's members, as residents are told before and after Send
    (letters.scheduling decides it): in one daily digest or each as it comes, in office hours
    or at any hour, and never more than per_hour to one person."""

    digest: bool
    digest_hour: str  # "7:00" ("7 h" in French), in digest_zone
    digest_zone: str
    office_hours: bool
    office_opens: str
    office_closes: str
    zone: str  # the municipality's, as residents name it
    per_hour: int


def delivery_schedule(campaign: Campaign, municipality: Municipality) -> DeliverySchedule:
    return DeliverySchedule(
        digest=campaign.schedule == Campaign.Schedule.DAILY_DIGEST,
        digest_hour=_clock(time(settings.DIGEST_HOUR)),
        digest_zone=time_zone_name(settings.TIME_ZONE),
        office_hours=campaign.office_hours_only,
        office_opens=_clock(OFFICE_OPENS),
        office_closes=_clock(OFFICE_CLOSES),
        zone=municipality.time_zone_name,
        per_hour=settings.LETTERS_PER_RECIPIENT_HOUR,
    )


def _clock(moment: time) -> str:
    """A time of day as Canadians write it: 18:00 in English, 18 h in French."""
    if translation.get_language() == "fr":
        # With a no-break space, as the French catalogue writes "8\u00a0h".
        hour = f"{moment.hour}\u00a0h"
        return f"{hour}\u00a0{moment.minute:02d}" if moment.minute else hour
    return f"{moment.hour}:{moment.minute:02d}"


def preview_context(campaign, state: CouncilState, form: LetterForm, draft: dict) -> dict:
    language = translation.get_language()
    composed = _compose(
        campaign, state, form, language, subject_index=drafts.subject_index(campaign, draft)
    )
    cleaned = form.cleaned_data
    sender_name = f"{cleaned['first_name']} {cleaned['last_name']}"
    return {
        "campaign": campaign,
        "state": state,
        "composed": composed,
        "recipients": _chosen(form, state),
        "unreachable": [rep for rep in state.representatives if not rep.can_email],
        "from_name": emails.letter_from_name(
            sender=sender_name, campaign=campaign, language=language
        ),
        "sender_email": cleaned["email"],
        "send_copy": cleaned.get("send_copy"),
        "keep_updated": cleaned.get("keep_updated"),
        "publish": cleaned.get("publish"),
        "followup": cleaned.get("followup"),
        "hold_consent": cleaned.get("hold_consent"),
        "near_duplicate": personal_part_warning(campaign, state, form),
        "municipality_name": state.municipality.display_name(language),
        "website": state.municipality.website,
        "schedule": delivery_schedule(campaign, state.municipality),
    }


def submit(request, campaign, state: CouncilState, form: LetterForm, draft: dict) -> Letter:
    cleaned = form.cleaned_data
    return services.letter_submit(
        campaign=campaign,
        municipality=state.municipality,
        ward=state.ward,
        representative_ids=list(cleaned.get("recipients") or []),
        first_name=cleaned["first_name"],
        last_name=cleaned["last_name"],
        email=cleaned["email"],
        postal_code=state.postal_code,
        language=translation.get_language(),
        street_address=cleaned.get("street_address", ""),
        send_copy=bool(cleaned.get("send_copy")),
        consent_given=bool(cleaned.get("keep_updated")),
        publication_consent=bool(cleaned.get("publish")),
        followup_consent=bool(cleaned.get("followup")),
        hold_consent=bool(cleaned.get("hold_consent")),
        personal_message=cleaned.get("personal_message", ""),
        talking_point_ids=list(cleaned.get("talking_points") or []),
        subject=cleaned.get("subject", ""),
        body=cleaned.get("body", ""),
        subject_index=drafts.subject_index(campaign, draft),
        ip=client_ip(request),
        council=state.representatives,
    )


def last_letter(request, campaign: Campaign) -> Letter | None:
    token = request.session.get(drafts.LAST_LETTER_KEY)
    if not token:
        return None
    return (
        Letter.objects.select_related("campaign", "municipality")
        .prefetch_related("deliveries__representative")
        .filter(token=token, campaign=campaign)
        .first()
    )


def status_context(letter: Letter) -> dict:
    """The status page: the letter, where a held one stands, and each recipient."""
    deliveries = list(letter.deliveries.all())
    now = timezone.now()
    today = timezone.localdate(now)
    return {
        "letter": letter,
        "campaign": letter.campaign,
        "deliveries": deliveries,
        # For "Due to go out ...": a paced letter's email whose time has not come yet.
        "now": now,
        # For "In tomorrow's digest to ...": the digest a waiting letter will be in.
        "digest_day": bundles.digest_day(letter.campaign, letter.municipality, now=now),
        "today": today,
        "tomorrow": today + timedelta(days=1),
        "hold_stage": letter.hold_stage(),
        # Confirmed, and nobody on the council could be emailed (nor will be: not held).
        "not_emailed": letter.status == Letter.Status.CONFIRMED
        and not letter.held_since
        and all(d.status == Delivery.Status.NO_EMAIL for d in deliveries),
        "municipality_name": letter.municipality.display_name(translation.get_language()),
        "website": letter.municipality.website,
    }


def letter_mailto(subject: str, body: str, to: list[str] | None = None) -> str:
    return (
        "mailto:"
        + quote(",".join(to or []), safe="@,")
        + "?subject="
        + quote(subject)
        + "&body="
        + quote(body)
    )


def _draft_recipients(state: CouncilState, data) -> list[Representative]:
    """The recipients typed data chose (every one who can be emailed when it chose none)."""
    chosen = {str(value) for value in _data_list(data, "recipients")}
    emailable = [rep for rep in state.representatives if rep.can_email]
    return [rep for rep in emailable if str(rep.pk) in chosen] or emailable


def _data_list(data, name: str) -> list:
    # A POST (QueryDict) or the draft's plain dict of what was typed.
    if hasattr(data, "getlist"):
        return data.getlist(name)
    value = data.get(name) or []
    return value if isinstance(value, list) else [value]


def _draft_letter(campaign: Campaign, state: CouncilState, data, *, subject_index: int):
    """The letter as far as typed data (not validated: a draft, a POST) goes."""
    points = {str(point.pk): point for point, _number in _talking_points(campaign)}
    return compose_letter(
        campaign=campaign,
        municipality=state.municipality,
        recipients=_draft_recipients(state, data),
        sender=Sender(
            str(data.get("first_name") or ""),
            str(data.get("last_name") or ""),
            state.postal_code,
            str(data.get("street_address") or ""),
        ),
        language=translation.get_language(),
        subject_index=subject_index,
        personal_message=str(data.get("personal_message") or ""),
        talking_points=[
            points[pk] for pk in map(str, _data_list(data, "talking_points")) if pk in points
        ],
        subject=str(data.get("subject") or ""),
        template_part=str(data.get("body") or ""),
    )


def closed_draft(campaign: Campaign, draft: dict) -> dict | None:
    """For a resident who was writing when the campaign closed: the letter as far as they
    got (what they typed, in the campaign's letter), to send themselves, and their council's
    contacts. None when they had not chosen their council."""
    state = council_state(campaign, draft)
    if state is None:
        return None
    data = draft.get("data") or {}
    recipients = _draft_recipients(state, data)
    language = translation.get_language()
    composed = _draft_letter(campaign, state, data, subject_index=draft.get("subject_index", 0))
    return {
        "typed": bool(data.get("personal_message") or data.get("body")),
        "subject": composed.subject,
        "body": composed.body,
        "mailto": letter_mailto(composed.subject, composed.body, [rep.email for rep in recipients]),
        "municipality": state.municipality,
        "municipality_name": state.municipality.display_name(language),
        "representatives": state.representatives,
    }


def thanks_context(request, campaign: Campaign, letter: Letter | None) -> dict:
    campaign.refresh_from_db(fields=["letters_count"])
    page_url = request.build_absolute_uri(campaign.get_absolute_url())
    share_text = campaign.share_text or campaign.title
    unreachable = []
    letter_facts = {}
    if letter is not None:
        deliveries = list(letter.deliveries.all())
        emailed = any(d.status != Delivery.Status.NO_EMAIL for d in deliveries)
        letter_facts = {
            "hold_stage": letter.hold_stage(),
            "emailed": emailed,
            # Nobody to email on this council: the letter to copy, and where to send it. (Not
            # after an election: that roster's people may be gone.)
            "copy_letter": not emailed and letter.hold_reason != Letter.HoldReason.ELECTION,
            "website": letter.municipality.website,
            "municipality_name": letter.municipality.display_name(translation.get_language()),
            "schedule": delivery_schedule(campaign, letter.municipality),
        }
        for delivery in deliveries:
            if delivery.status != Delivery.Status.NO_EMAIL:
                continue
            rep = delivery.representative
            unreachable.append(
                {
                    "label": delivery.recipient_label,
                    "phone": rep.phone if rep else "",
                    "contact_url": rep.contact_url if rep else "",
                    "mailto": letter_mailto(letter.subject, letter.body),
                }
            )
    return {
        **letter_facts,
        "campaign": campaign,
        "letter": letter,
        "unreachable": unreachable,
        # The letter to send to more members yourself, for its writer only (a letter is
        # here only after its writer confirmed it, or sent it when no confirmation is asked).
        "letter_mailto": letter_mailto(letter.subject, letter.body) if letter else "",
        "page_url": page_url,
        "share_links": [
            (_("Email"), "mailto:?subject=" + quote(share_text) + "&body=" + quote(page_url)),
            (
                "Bluesky",
                "https://bsky.app/intent/compose?text=" + quote(f"{share_text} {page_url}"),
            ),
            (
                "Mastodon",
                "https://mastodonshare.com/?text=" + quote(share_text) + "&url=" + quote(page_url),
            ),
            ("Facebook", "https://www.facebook.com/sharer/sharer.php?u=" + quote(page_url)),
            (
                "X",
                "https://x.com/intent/post?text=" + quote(share_text) + "&url=" + quote(page_url),
            ),
            ("WhatsApp", "https://wa.me/?text=" + quote(f"{share_text} {page_url}")),
        ],
        "progress": min(100, round(100 * campaign.letters_count / campaign.goal))
        if campaign.goal
        else 0,
        "confirmation_days": settings.LETTERS_CONFIRMATION_DAYS,
    }


def reply_deliveries(letter: Letter) -> list[Delivery]:
    """The recipients a writer can report on: those their letter reached (not the clerk)."""
    return list(
        letter.deliveries.filter(status__in=SENT_STATUSES, to_clerk=False)
        .select_related("reply")
        .order_by("pk")
    )


def reply_forms(deliveries: list[Delivery], *, data=None, initial=None) -> dict:
    """One ReplyForm per recipient, prefilled with the earlier answer, or with the outcome
    the follow-up email's link chose."""
    outcomes = Reply.Outcome.choices
    chosen = (initial or {}).get("outcome")
    forms = {}
    for delivery in deliveries:
        earlier = getattr(delivery, "reply", None)
        start = {}
        if earlier is not None:
            start = {
                "outcome": earlier.outcome,
                "replied_on": earlier.replied_on,
                "summary": earlier.summary,
                "may_publish": earlier.may_publish,
            }
        elif chosen in Reply.Outcome.values:
            start = {"outcome": chosen}
        forms[delivery.pk] = ReplyForm(
            data, prefix=f"d{delivery.pk}", initial=start, outcomes=outcomes
        )
    return forms
