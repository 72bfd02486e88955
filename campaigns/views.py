from django.conf import settings
from django.db import connection
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from . import health
from .models import Campaign
from .selectors import campaign_list_public


@require_safe
def home(request):
    campaigns = list(campaign_list_public())
    if len(campaigns) == 1:
        return redirect(campaigns[0])
    return render(request, "campaigns/home.html", {"campaigns": campaigns})


# Display names of django-anymail's ESPs (ANYMAIL_ESP), for the privacy page.
ESP_NAMES = {
    "amazon_ses": "Amazon SES",
    "brevo": "Brevo",
    "mailersend": "MailerSend",
    "mailgun": "Mailgun",
    "mailjet": "Mailjet",
    "mandrill": "Mandrill",
    "postal": "Postal",
    "postmark": "Postmark",
    "resend": "Resend",
    "sendgrid": "SendGrid",
    "sendinblue": "Brevo",
    "sparkpost": "SparkPost",
}


def mail_processor() -> str:
    """Who carries our email: the ESP named by ANYMAIL_ESP, else "SMTP"."""
    esp = settings.ANYMAIL_ESP
    return ESP_NAMES.get(esp, esp.replace("_", " ").title()) if esp else "SMTP"


@require_safe
def privacy(request):
    """The privacy notice, generated from the settings and each public campaign."""
    context = {
        "campaigns": Campaign.objects.public().order_by("-created_at"),
        "mail_processor": mail_processor(),
        "confirmation_days": settings.LETTERS_CONFIRMATION_DAYS,
        "session_hours": max(1, settings.SESSION_COOKIE_AGE // 3600),
    }
    return render(request, "campaigns/privacy.html", context)


@never_cache
@require_safe
def healthz(request):
    report = {"database": health.database_status(connection), "broker": health.broker_status()}
    healthy = all(value in ("ok", "eager") for value in report.values())
    return JsonResponse(
        {"status": "ok" if healthy else "error", **report}, status=200 if healthy else 503
    )
