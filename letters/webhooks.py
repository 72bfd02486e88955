"""ESP tracking webhooks (django-anymail, /anymail/<esp>/tracking/) → delivery status.

Anymail checks the webhook's authentication (ANYMAIL_WEBHOOK_SECRET, plus the ESP's own
signature where it has one) before this receiver runs; it only turns events into a service call.
"""

from anymail.signals import tracking
from django.dispatch import receiver

from .delivery import delivery_track


@receiver(tracking, dispatch_uid="letters_delivery_tracking")
def delivery_tracking_received(sender, event, esp_name, **kwargs) -> None:
    delivery_track(
        event_type=event.event_type,
        message_id=event.message_id or "",
        recipient=event.recipient or "",
        timestamp=event.timestamp,
        description=event.description or event.mta_response or "",
        esp_name=esp_name,
    )
