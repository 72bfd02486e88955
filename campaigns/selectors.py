from django.contrib.auth.models import AnonymousUser, User
from django.core.cache import cache
from django.db.models import Prefetch, QuerySet
from django.http import Http404

from .models import (
    RECIPIENT_PLACEHOLDERS,
    Campaign,
    CampaignPrompt,
    Citation,
    TalkingPoint,
    join_paragraphs,
    placeholder_names,
    render_letter_template,
    sample_placeholders,
    split_at_personal_part,
)


def campaign_list_public() -> QuerySet[Campaign]:
    return Campaign.objects.live().order_by("-created_at")


# A public campaign (with its citations and talking points) is cached this long for
# everyone but staff. Edits in the admin clear it at once (campaigns/caching.py); the letters
# counter on the page may lag by up to this much, like counts.json.
CAMPAIGN_CACHE_SECONDS = 60


def campaign_cache_key(slug: str) -> str:
    return f"campaigns:public:{slug}"


def campaign_get_for_viewer(*, slug: str, user: User | AnonymousUser) -> Campaign:
    """The campaign behind a public page.

    Drafts exist only for staff (the admin's "view on site" preview); everyone else gets 404,
    and gets the campaign from the cache when it is there. Talking points and citations come
    prefetched, in order.
    """
    is_staff = user.is_authenticated and user.is_staff
    key = campaign_cache_key(slug)
    if not is_staff:
        cached = cache.get(key)
        if cached is not None:
            return cached
    queryset = Campaign.objects.prefetch_related(
        Prefetch("citations", queryset=Citation.objects.order_by("order", "pk")),
        Prefetch("prompts", queryset=CampaignPrompt.objects.order_by("order", "pk")),
        Prefetch(
            "talking_points",
            queryset=TalkingPoint.objects.select_related("citation").order_by("order", "pk"),
        ),
    )
    if not is_staff:
        queryset = queryset.public()
    try:
        campaign = queryset.get(slug=slug)
    except Campaign.DoesNotExist as exc:
        raise Http404("No such campaign") from exc
    if not is_staff:
        cache.set(key, campaign, CAMPAIGN_CACHE_SECONDS)
    return campaign


def citation_numbers(campaign: Campaign) -> dict[int, int]:
    """Citation id -> its number on the page (1, 2, 3... in citation order)."""
    return {citation.pk: number for number, citation in enumerate(campaign.citations.all(), 1)}


def _sample_letter(campaign: Campaign, samples: dict[str, str]) -> str:
    """The letter as the campaign page shows it: the template with bracketed hints, and,
    unless the letter is locked, a hint where the resident's own words go."""
    before, after = split_at_personal_part(
        render_letter_template(
            campaign.letter_template,
            {name: value for name, value in samples.items() if name != "personal_part"},
        )
    )
    hint = "" if campaign.editing_mode == Campaign.EditingMode.LOCKED else samples["personal_part"]
    return join_paragraphs(before, hint, after)


def campaign_page_context(*, campaign: Campaign) -> dict:
    """What the public campaign page shows: copy, talking points with citation numbers, a
    sample letter as it goes to the whole council (the resident's details as bracketed
    hints) with every subject a letter may get, and progress toward the goal."""
    numbers = citation_numbers(campaign)
    talking_points = [
        (point, numbers.get(point.citation_id)) for point in campaign.talking_points.all()
    ]
    samples = sample_placeholders()
    return {
        "campaign": campaign,
        "phase": campaign.phase(),
        "talking_points": talking_points,
        "citations": list(campaign.citations.all()),
        "letter_subjects": [
            render_letter_template(subject, samples) for subject in campaign.subject_list()
        ],
        "letter_preview": _sample_letter(campaign, samples),
        "greets_recipient": any(
            name in RECIPIENT_PLACEHOLDERS for name in placeholder_names(campaign.letter_template)
        ),
        "progress": min(100, round(100 * campaign.letters_count / campaign.goal))
        if campaign.goal
        else 0,
    }
