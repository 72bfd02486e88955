from celery import shared_task
from django.db import transaction
from django.utils import timezone

from . import emails
from .models import Delivery


@shared_task(acks_late=True)
def delivery_send(delivery_id: int) -> None:
    """Send one delivery's email (minimal version; see issue 5 for the full machinery)."""
    with transaction.atomic():
        delivery = (
            Delivery.objects.select_for_update()
            .select_related("letter__campaign", "letter__municipality")
            .get(pk=delivery_id)
        )
        if delivery.status != Delivery.Status.QUEUED:
            return
        message = emails.letter_message(delivery)
        message.send()
        delivery.status = Delivery.Status.SENT
        delivery.sent_at = timezone.now()
        delivery.attempts += 1
        delivery.save(update_fields=["status", "sent_at", "attempts", "updated_at"])
