from django.http import Http404, JsonResponse
from django.utils.cache import patch_cache_control
from django.views.decorators.http import require_safe

from .selectors import COUNTS_CACHE_SECONDS, public_counts


@require_safe
def counts_json(request, slug):
    """Public, embeddable counts of a live or closed campaign: total, goal, per province."""
    data = public_counts(slug=slug)
    if data is None:
        raise Http404("No such campaign")
    response = JsonResponse(data)
    patch_cache_control(response, public=True, max_age=COUNTS_CACHE_SECONDS)
    # Counts carry no personal data and are meant to be embedded on other sites.
    response["Access-Control-Allow-Origin"] = "*"
    return response
