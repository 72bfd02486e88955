from django.contrib.auth.models import AnonymousUser, User
from django.db.models import Prefetch, QuerySet
from django.http import Http404

from .models import Campaign, Citation, TalkingPoint, render_letter_template, sample_placeholders


def campaign_list_public() -> QuerySet[Campaign]:
    return Campaign.objects.live().order_by("-created_at")


def campaign_get_for_viewer(*, slug: str, user: User | AnonymousUser) -> Campaign:
    """The campaign behind a public page.

    Drafts exist only for staff (the admin's "view on site" preview); everyone else gets 404.
    Talking points and citations come prefetched, in order.
    """
    queryset = Campaign.objects.prefetch_related(
        Prefetch("citations", queryset=Citation.objects.order_by("order", "pk")),
        Prefetch(
            "talking_points",
            queryset=TalkingPoint.objects.select_related("citation").order_by("order", "pk"),
        ),
    )
    if not (user.is_authenticated and user.is_staff):
        queryset = queryset.public()
    try:
        return queryset.get(slug=slug)
    except Campaign.DoesNotExist as exc:
        raise Http404("No such campaign") from exc


def citation_numbers(campaign: Campaign) -> dict[int, int]:
    """Citation id -> its number on the page (1, 2, 3... in citation order)."""
    return {citation.pk: number for number, citation in enumerate(campaign.citations.all(), 1)}


def campaign_page_context(*, campaign: Campaign) -> dict:
    """What the public campaign page shows: copy, talking points with citation numbers, a
    sample letter with bracketed placeholders, and progress toward the goal."""
    numbers = citation_numbers(campaign)
    talking_points = [
        (point, numbers.get(point.citation_id)) for point in campaign.talking_points.all()
    ]
    return {
        "campaign": campaign,
        "phase": campaign.phase(),
        "talking_points": talking_points,
        "citations": list(campaign.citations.all()),
        "letter_subject": render_letter_template(
            (campaign.subject_list() or [""])[0], sample_placeholders()
        ),
        "letter_preview": render_letter_template(campaign.letter_template, sample_placeholders()),
        "progress": min(100, round(100 * campaign.letters_count / campaign.goal))
        if campaign.goal
        else 0,
    }
