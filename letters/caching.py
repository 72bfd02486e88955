"""Cache invalidation for the letters app (signals are used for this only).

- counts.json: refreshed every COUNTS_CACHE_SECONDS; a campaign edit (goal, slug, status)
  shows at once.
- The block list (selectors.sender_is_blocked): cleared when an entry is saved or deleted.
- The council of a letter in progress (journey.council_state): its key carries a directory
  version, bumped whenever a municipality, ward or representative is saved or deleted, and
  the campaign's last change. Bulk updates send no signal: they show within
  COUNCIL_CACHE_SECONDS.
- Each web process also keeps the directory version, the councils and the block list it read
  for a second (config.local_cache), so other processes see a change within a second.
"""

from django.core.cache import cache
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from campaigns.models import Campaign
from config.local_cache import cached_locally
from councils.models import Municipality, Representative, Ward

from .models import BlockedSender
from .selectors import BLOCKED_CACHE_KEY, local_cache
from .views_counts import counts_cache_key

COUNCIL_CACHE_SECONDS = 60
_DIRECTORY_VERSION = "letters:directory-version"


def council_cache_key(campaign: Campaign, municipality_id: int, ward_id: int | None) -> str:
    version = cached_locally(local_cache, _DIRECTORY_VERSION, cache.get) or 0
    edited = campaign.updated_at.timestamp() if campaign.updated_at else 0
    return f"letters:council:{version}:{campaign.pk}:{edited}:{municipality_id}:{ward_id}"


def _directory_changed(sender, **kwargs):
    local_cache.forget(_DIRECTORY_VERSION)
    try:
        cache.incr(_DIRECTORY_VERSION)
    except ValueError:
        cache.set(_DIRECTORY_VERSION, 1, None)


for _model in (Municipality, Ward, Representative):
    post_save.connect(_directory_changed, sender=_model, dispatch_uid=f"dir_save_{_model.__name__}")
    post_delete.connect(
        _directory_changed, sender=_model, dispatch_uid=f"dir_delete_{_model.__name__}"
    )


@receiver(post_save, sender=Campaign, dispatch_uid="letters_counts_cache_clear_save")
@receiver(post_delete, sender=Campaign, dispatch_uid="letters_counts_cache_clear_delete")
def _campaign_changed(sender, instance, **kwargs):
    cache.delete(counts_cache_key(instance.slug))


@receiver(post_save, sender=BlockedSender, dispatch_uid="letters_blocked_cache_clear_save")
@receiver(post_delete, sender=BlockedSender, dispatch_uid="letters_blocked_cache_clear_delete")
def _block_list_changed(sender, **kwargs):
    local_cache.forget(BLOCKED_CACHE_KEY)
    cache.delete(BLOCKED_CACHE_KEY)
