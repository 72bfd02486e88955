"""Queuing confirmed letters for delivery (the machinery lives in letters.tasks)."""

from django.db import transaction
from django.utils import timezone

from .models import Delivery, Letter


def letter_queue(*, letter: Letter) -> None:
    """Mark the letter's waiting deliveries queued and start a task for each after commit."""
    from .tasks import delivery_send as delivery_send_task

    with transaction.atomic():
        deliveries = list(
            letter.deliveries.select_for_update().filter(
                status=Delivery.Status.PENDING_CONFIRMATION
            )
        )
        now = timezone.now()
        for delivery in deliveries:
            delivery.status = Delivery.Status.QUEUED
            delivery.queued_at = now
            delivery.save(update_fields=["status", "queued_at", "updated_at"])
        ids = [delivery.pk for delivery in deliveries]
        transaction.on_commit(lambda: [delivery_send_task.delay(pk) for pk in ids])
