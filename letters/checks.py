"""System checks for delivery settings."""

from django.conf import settings
from django.core.checks import Warning, register


@register("letters", deploy=True)
def anymail_webhook_secret_check(app_configs, **kwargs) -> list:
    """Without a webhook secret, anymail accepts tracking posts from anyone, who could then
    mark deliveries bounced and flag representatives' addresses."""
    anymail = getattr(settings, "ANYMAIL", {}) or {}
    if getattr(settings, "ANYMAIL_ESP", "") and not anymail.get("WEBHOOK_SECRET"):
        return [
            Warning(
                "ANYMAIL_ESP is set but ANYMAIL_WEBHOOK_SECRET is not: the tracking webhooks "
                "accept unauthenticated posts.",
                hint="Set ANYMAIL_WEBHOOK_SECRET to 'user:long-random-password' and use it "
                "in the ESP's webhook URL (https://user:password@host/anymail/<esp>/tracking/).",
                id="letters.W001",
            )
        ]
    return []
