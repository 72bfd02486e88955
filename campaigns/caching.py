"""Clear the cached public campaign (campaigns.selectors) when its copy changes.

Signals are used for cache invalidation only: an admin edit of a campaign, a citation or a
talking point must show on the public page at once, whoever saved it.
"""

from django.conf import settings
from django.core.cache import cache
from django.core.cache.utils import make_template_fragment_key
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from config.local_cache import cached_locally

from .models import Campaign, Citation, TalkingPoint
from .selectors import campaign_cache_key, local_cache

# The {% cache %} fragments of templates/campaigns/detail.html.
PAGE_FRAGMENTS = ("campaign_copy", "campaign_letter", "campaign_sources")
# A whole campaign page as a first-time visitor sees it (letters.views.campaign), for this long.
# The counter on it may lag by this much, like counts.json.
PAGE_CACHE_SECONDS = 60


def campaign_page_cache_key(slug: str, language: str) -> str:
    return f"campaigns:page:{slug}:{language}"


def campaign_page_get(*, slug: str, language: str) -> str | None:
    """The shared campaign page's HTML, or None when it is not cached."""
    return cached_locally(local_cache, campaign_page_cache_key(slug, language), cache.get)


def campaign_page_set(*, slug: str, language: str, html: str) -> None:
    key = campaign_page_cache_key(slug, language)
    cache.set(key, html, PAGE_CACHE_SECONDS)
    local_cache.set(key, html)


def campaign_cache_clear(*, campaign_id: int, slug: str | None = None) -> None:
    """Forget the cached campaign, its page and its page fragments in every language."""
    if slug is None:
        slug = Campaign.objects.filter(pk=campaign_id).values_list("slug", flat=True).first()
    keys = []
    for language, _label in settings.LANGUAGES:
        keys += [
            make_template_fragment_key(name, [campaign_id, language]) for name in PAGE_FRAGMENTS
        ]
        if slug:
            keys.append(campaign_page_cache_key(slug, language))
    if slug:
        keys.append(campaign_cache_key(slug))
    local_cache.forget(*keys)
    cache.delete_many(keys)


@receiver(post_save, sender=Campaign, dispatch_uid="campaign_cache_clear_campaign_save")
@receiver(post_delete, sender=Campaign, dispatch_uid="campaign_cache_clear_campaign_delete")
def _campaign_changed(sender, instance, **kwargs):
    campaign_cache_clear(campaign_id=instance.pk, slug=instance.slug)


@receiver(post_save, sender=Citation, dispatch_uid="campaign_cache_clear_citation_save")
@receiver(post_delete, sender=Citation, dispatch_uid="campaign_cache_clear_citation_delete")
@receiver(post_save, sender=TalkingPoint, dispatch_uid="campaign_cache_clear_point_save")
@receiver(post_delete, sender=TalkingPoint, dispatch_uid="campaign_cache_clear_point_delete")
def _copy_changed(sender, instance, **kwargs):
    campaign_cache_clear(campaign_id=instance.campaign_id)
