"""The embedded default's mail backend: messages stay on this machine, in the local outbox
(OutboxMessage), which the admin lists. Nothing is sent anywhere."""

import logging

from django.core.mail.backends.base import BaseEmailBackend

logger = logging.getLogger(__name__)


class OutboxBackend(BaseEmailBackend):
    def send_messages(self, email_messages) -> int:
        from .models import OutboxMessage

        count = 0
        for message in email_messages:
            if not message.recipients():
                continue
            html = ""
            for content, mimetype in getattr(message, "alternatives", []) or []:
                if mimetype == "text/html":
                    html = content
            raw = message.message()
            OutboxMessage.objects.create(
                message_id=str(raw["Message-ID"] or "")[:300],
                from_email=str(message.from_email)[:300],
                to=", ".join(message.to + message.cc + message.bcc),
                reply_to=", ".join(message.reply_to),
                subject=str(message.subject)[:300],
                body=message.body,
                html=html,
                raw=raw.as_string(),
            )
            logger.info("Outbox: %r to %s", message.subject, ", ".join(message.recipients()))
            count += 1
        return count
