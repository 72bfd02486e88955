"""Cache invalidation for the letters app (signals are used for this only).

- counts.json: refreshed every COUNTS_CACHE_SECONDS (and the response kept as long again by
  the site cache, as by any cache its max-age allows); a campaign edit (goal, slug, status)
  shows at once (campaigns.caching clears the kept pages).
- The block list (selectors.sender_is_blocked): cleared when an entry is saved or deleted.
"""

from django.core.cache import cache
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from campaigns.models import Campaign

from .models import BlockedSender
from .selectors import BLOCKED_CACHE_KEY, counts_cache_key


@receiver(post_save, sender=Campaign, dispatch_uid="letters_counts_cache_clear_save")
@receiver(post_delete, sender=Campaign, dispatch_uid="letters_counts_cache_clear_delete")
def _campaign_changed(sender, instance, **kwargs):
    cache.delete(counts_cache_key(instance.slug))


@receiver(post_save, sender=BlockedSender, dispatch_uid="letters_blocked_cache_clear_save")
@receiver(post_delete, sender=BlockedSender, dispatch_uid="letters_blocked_cache_clear_delete")
def _block_list_changed(sender, **kwargs):
    cache.delete(BLOCKED_CACHE_KEY)
