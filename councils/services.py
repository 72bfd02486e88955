from django.db import transaction

from .models import Municipality


@transaction.atomic
def demo_data_load() -> tuple[int, int]:
    """Load demo municipalities and placeholder representatives; returns (municipalities, reps)."""
    return Municipality.objects.count(), 0
