from django.core.cache import cache
from django.http import JsonResponse
from django.shortcuts import get_object_or_404
from django.utils.cache import patch_cache_control
from django.views.decorators.http import require_safe

from campaigns.models import Campaign

from .selectors import letter_counts

# Long enough that a busy campaign page does not count a million rows per visitor, short
# enough that a resident sees their letter counted within a minute.
COUNTS_CACHE_SECONDS = 60


def counts_cache_key(slug: str) -> str:
    return f"letters:counts-json:{slug}"


@require_safe
def counts_json(request, slug):
    """Public, embeddable counts of a live or closed campaign: total, goal, per province."""
    data = cache.get(counts_cache_key(slug))
    if data is None:
        campaign = get_object_or_404(Campaign.objects.public(), slug=slug)
        provinces = letter_counts(campaign=campaign, by="province", with_deliveries=False)
        data = {
            "campaign": campaign.slug,
            "total": sum(row["letters"] for row in provinces),
            "goal": campaign.goal,
            "provinces": {
                row["province"]: row["letters"]
                for row in sorted(provinces, key=lambda row: row["province"])
            },
        }
        cache.set(counts_cache_key(slug), data, COUNTS_CACHE_SECONDS)
    response = JsonResponse(data)
    patch_cache_control(response, public=True, max_age=COUNTS_CACHE_SECONDS)
    # Counts carry no personal data and are meant to be embedded on other sites.
    response["Access-Control-Allow-Origin"] = "*"
    return response
