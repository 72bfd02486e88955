"""Clear the cached public campaign (campaigns.selectors) when its copy changes.

Signals are used for cache invalidation only: an admin edit of a campaign, a prompt, a citation
or a talking point must show on the public page at once, whoever saved it.
"""

from django.conf import settings
from django.core.cache import cache, caches
from django.core.cache.utils import make_template_fragment_key
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from .models import Campaign, CampaignPrompt, Citation, TalkingPoint
from .selectors import campaign_cache_key

# The {% cache %} fragments of templates/campaigns/detail.html.
PAGE_FRAGMENTS = ("campaign_copy", "campaign_letter", "campaign_sources")
# The whole page as a first-time visitor gets it (letters.views.campaign), kept this long by
# Django's site cache; its counter may lag by as much, like counts.json's.
PAGE_CACHE_SECONDS = 60


def page_cache_clear() -> None:
    """Forget every page the site cache keeps (settings.CACHE_MIDDLEWARE_ALIAS): its keys hold
    a digest of the address, not the campaign, and an edit is rare enough to start them all
    afresh."""
    pages = caches[settings.CACHE_MIDDLEWARE_ALIAS]
    if hasattr(pages, "delete_pattern"):
        # django-redis: the keys under this alias's own prefix. Its clear() would empty the
        # whole Redis database, sessions and the Celery queue with it.
        pages.delete_pattern("*", itersize=1000)
    else:
        pages.clear()


def campaign_cache_clear(*, campaign_id: int, slug: str | None = None) -> None:
    """Forget the cached campaign, its page fragments in every language and the kept pages."""
    if slug is None:
        slug = Campaign.objects.filter(pk=campaign_id).values_list("slug", flat=True).first()
    keys = []
    for language, _label in settings.LANGUAGES:
        keys += [
            make_template_fragment_key(name, [campaign_id, language]) for name in PAGE_FRAGMENTS
        ]
    if slug:
        keys.append(campaign_cache_key(slug))
    cache.delete_many(keys)
    page_cache_clear()


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
