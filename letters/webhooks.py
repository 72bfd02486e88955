"""ESP tracking webhooks (django-anymail, /anymail/<esp>/tracking/) → delivery status.

Anymail checks the webhook's authentication (ANYMAIL_WEBHOOK_SECRET as HTTP basic auth, plus
the ESP's own signature where it has one) before this receiver runs; a forged post never gets
here. The receiver only turns the normalized event (its type, reject reason, the server's
reply) into a service call, which classifies the failure. Mounted only with an ESP.
"""

from anymail.signals import tracking
from django.dispatch import receiver

from .delivery_events import delivery_track

# Bounce types some ESPs report as "bounced" although the address may work tomorrow. They
# must not count toward flagging a representative's address.
SOFT_BOUNCE_TYPES = {"SoftBounce", "Transient", "DnsError"}


@receiver(tracking, dispatch_uid="letters_delivery_tracking")
def delivery_tracking_received(sender, event, esp_name, **kwargs) -> None:
    event_type = event.event_type
    esp_event = event.esp_event if isinstance(event.esp_event, dict) else {}
    if event_type == "bounced" and esp_event.get("Type") in SOFT_BOUNCE_TYPES:
        event_type = "deferred"
    delivery_track(
        event_type=event_type,
        message_id=event.message_id or "",
        recipient=event.recipient or "",
        timestamp=event.timestamp,
        description=event.description or "",
        mta_response=event.mta_response or "",
        reject_reason=event.reject_reason or "",
        esp_name=esp_name,
    )
