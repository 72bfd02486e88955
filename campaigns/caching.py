"""Clear the cached public campaign (campaigns.selectors) when its copy changes.

Signals are used for cache invalidation only: an admin edit of a campaign, a prompt, a citation
or a talking point must show on the public page at once, whoever saved it.
"""

from django.conf import settings
from django.core.cache import cache
from django.core.cache.utils import make_template_fragment_key
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from .models import Campaign, CampaignPrompt, Citation, TalkingPoint
from .selectors import campaign_cache_key

# The {% cache %} fragments of templates/campaigns/detail.html.
PAGE_FRAGMENTS = ("campaign_copy", "campaign_letter", "campaign_sources")
# The whole page as a first-time visitor gets it (letters.views.campaign), kept this long by
# Django's per-view cache; its counter may lag by as much, like counts.json's.
PAGE_CACHE_SECONDS = 60


def _page_version_key(slug: str) -> str:
    return f"campaigns:page-version:{slug}"


def campaign_page_version(slug: str) -> int:
    """The current version of a campaign's cached page: part of the per-view cache's key, so
    an edit (campaign_cache_clear) starts a new entry at once."""
    return cache.get_or_set(_page_version_key(slug), 1, None) or 1


def campaign_cache_clear(*, campaign_id: int, slug: str | None = None) -> None:
    """Forget the cached campaign and its page fragments in every language."""
    if slug is None:
        slug = Campaign.objects.filter(pk=campaign_id).values_list("slug", flat=True).first()
    keys = []
    for language, _label in settings.LANGUAGES:
        keys += [
            make_template_fragment_key(name, [campaign_id, language]) for name in PAGE_FRAGMENTS
        ]
    if slug:
        keys.append(campaign_cache_key(slug))
        try:
            cache.incr(_page_version_key(slug))
        except ValueError:
            cache.set(_page_version_key(slug), 2, None)
    cache.delete_many(keys)


@receiver(post_save, sender=Campaign, dispatch_uid="campaign_cache_clear_campaign_save")
@receiver(post_delete, sender=Campaign, dispatch_uid="campaign_cache_clear_campaign_delete")
def _campaign_changed(sender, instance, **kwargs):
    campaign_cache_clear(campaign_id=instance.pk, slug=instance.slug)


@receiver(post_save, sender=Citation, dispatch_uid="campaign_cache_clear_citation_save")
@receiver(post_delete, sender=Citation, dispatch_uid="campaign_cache_clear_citation_delete")
@receiver(post_save, sender=CampaignPrompt, dispatch_uid="campaign_cache_clear_prompt_save")
@receiver(post_delete, sender=CampaignPrompt, dispatch_uid="campaign_cache_clear_prompt_delete")
@receiver(post_save, sender=TalkingPoint, dispatch_uid="campaign_cache_clear_point_save")
@receiver(post_delete, sender=TalkingPoint, dispatch_uid="campaign_cache_clear_point_delete")
def _copy_changed(sender, instance, **kwargs):
    campaign_cache_clear(campaign_id=instance.campaign_id)
