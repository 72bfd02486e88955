"""The unfinished letter, kept in the resident's session between the steps of the journey.

The draft lives under one key per campaign: postal_code, province, candidates (picker values),
municipality, ward, subject_index, started (when the letter step was first shown) and data
(the letter step's fields as typed, bounded). After Send, the session keeps either the address
the resident typed (the check-your-inbox page) or, once a letter went out, its token (the
thank-you page), never both.
"""

import random

from campaigns.models import Campaign
from councils.selectors import LookupResult

from .forms import LetterForm
from .models import Letter

LAST_LETTER_KEY = "letters:last"
LIST_FIELDS = ("recipients", "talking_points")
# What a text field keeps in the draft when typed past its limit: enough to show the text
# and its error, never the megabytes a crafted POST can carry.
DRAFT_OVERFLOW = 2


def _key(campaign: Campaign) -> str:
    return f"letters:draft:{campaign.pk}"


def draft_get(request, campaign: Campaign) -> dict:
    return dict(request.session.get(_key(campaign), {}))


def draft_save(request, campaign: Campaign, draft: dict) -> None:
    request.session[_key(campaign)] = draft


def draft_clear(request, campaign: Campaign) -> None:
    request.session.pop(_key(campaign), None)


def draft_set_lookup(draft: dict, result: LookupResult) -> None:
    draft["postal_code"] = result.postal_code
    draft["province"] = result.province
    draft["candidates"] = [
        f"{c.municipality.pk}:{c.ward.pk}" if c.ward else str(c.municipality.pk)
        for c in result.candidates
    ]
    draft.pop("municipality", None)
    draft.pop("ward", None)


def draft_set_council(draft: dict, municipality_id: int, ward_id: int | None) -> None:
    if draft.get("municipality") != municipality_id:
        # Another council has other recipients: the old ticks no longer apply.
        data = draft.get("data") or {}
        data.pop("recipients", None)
    draft["municipality"] = municipality_id
    draft["ward"] = ward_id


def form_data(post, form: LetterForm) -> dict:
    """The letter step's fields as typed, for the draft, so nothing is lost on the way back
    to the step: only the form's own fields, each text cut at DRAFT_OVERFLOW times its
    limit, and list fields only their offered choices."""
    data = {}
    for name, field in form.fields.items():
        if name in LIST_FIELDS:
            offered = {str(value) for value, _label in field.choices}
            data[name] = [value for value in dict.fromkeys(post.getlist(name)) if value in offered]
        elif name in post:
            limit = DRAFT_OVERFLOW * (getattr(field, "max_length", None) or 100)
            data[name] = post.get(name)[:limit]
    return data


def _inbox_key(campaign: Campaign) -> str:
    return f"letters:inbox:{campaign.pk}"


def inbox_set(request, campaign: Campaign, *, email: str, municipality_id: int) -> None:
    """After Send, when the next step is the resident's inbox: remember the address they typed
    (never anything read from the database), for the thank-you page and "send it again"."""
    request.session.pop(LAST_LETTER_KEY, None)
    request.session[_inbox_key(campaign)] = {"email": email, "municipality": municipality_id}


def inbox_get(request, campaign: Campaign) -> dict | None:
    return request.session.get(_inbox_key(campaign))


def last_letter_set(request, letter: Letter) -> None:
    """After a letter went out (confirmed): the thank-you page may show it. Only its writer
    gets here: from the link in their own inbox, or from Send when no confirmation is asked."""
    request.session.pop(f"letters:inbox:{letter.campaign_id}", None)
    request.session[LAST_LETTER_KEY] = letter.token


def subject_index(campaign: Campaign, draft: dict) -> int:
    if "subject_index" not in draft:
        # Each letter picks one of the campaign's subjects, so a council does not receive a
        # pile of identical ones.
        draft["subject_index"] = random.randrange(max(1, len(campaign.subject_list())))
    return draft["subject_index"]
