"""Clear the cached public counts (counts.json) when organizers edit a campaign.

The counts themselves refresh every COUNTS_CACHE_SECONDS; an edit (the goal, the slug, the
status) shows at once. Signals are used for cache invalidation only.
"""

from django.core.cache import cache
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from campaigns.models import Campaign

from .views_counts import counts_cache_key


@receiver(post_save, sender=Campaign, dispatch_uid="letters_counts_cache_clear_save")
@receiver(post_delete, sender=Campaign, dispatch_uid="letters_counts_cache_clear_delete")
def _campaign_changed(sender, instance, **kwargs):
    cache.delete(counts_cache_key(instance.slug))
