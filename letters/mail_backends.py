"""Mail backends: the embedded default's local outbox, and SMTP that keeps refusals.

OutboxBackend: messages stay on this machine, in the local outbox
(OutboxMessage), which the admin lists. Nothing is sent anywhere."""

import logging

from django.core.mail.backends import smtp
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


class SMTPBackend(smtp.EmailBackend):
    """Django's SMTP backend, except that it keeps what the server refused.

    When one message goes to several recipients (a letter to the whole council) and the server
    refuses some while accepting the others, smtplib returns the refused ones and Django drops
    that answer. Here it stays on the message as refused_recipients ({address: (code, reply)}),
    so letters.sending can fail those deliveries instead of recording them as sent. A
    message's envelope_sender (as anymail names it) becomes the SMTP MAIL FROM.
    """

    def _send(self, email_message):
        connection = self.connection
        if connection is None:
            return super()._send(email_message)
        sendmail = connection.sendmail

        def sendmail_keeping_refusals(from_addr, to_addrs, msg, *args, **kwargs):
            # A return path of its own (VERP, letters.emails.bounce_address), if it has one.
            from_addr = getattr(email_message, "envelope_sender", None) or from_addr
            email_message.refused_recipients = sendmail(from_addr, to_addrs, msg, *args, **kwargs)
            return email_message.refused_recipients

        connection.sendmail = sendmail_keeping_refusals
        try:
            return super()._send(email_message)
        finally:
            del connection.sendmail
