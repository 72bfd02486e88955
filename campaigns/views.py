from django.conf import settings
from django.db import connection
from django.http import HttpResponseRedirect, JsonResponse
from django.shortcuts import redirect, render
from django.templatetags.static import static
from django.urls import reverse, translate_url
from django.utils import timezone, translation
from django.utils.cache import patch_vary_headers
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import cache_control, never_cache
from django.views.decorators.http import require_safe

from . import health
from .models import Campaign
from .selectors import campaign_list_public


@require_safe
def home(request):
    """The campaign list, or the one live campaign. At the bare "/" (no language in the
    address), a visitor goes to their language: the one they chose with the language switch
    (its cookie), else the first their browser asks for (Accept-Language), else English."""
    campaigns = list(campaign_list_public())
    language = translation.get_language()
    if translation.get_language_from_path(request.path_info) is None:
        language = translation.get_language_from_request(request)
    elsewhere = language != translation.get_language()
    with translation.override(language):
        if len(campaigns) == 1:
            response = redirect(campaigns[0])
        elif elsewhere:
            response = redirect("campaigns:home")
        else:
            response = render(request, "campaigns/home.html", {"campaigns": campaigns})
    patch_vary_headers(response, ("Accept-Language", "Cookie"))
    return response


@require_safe
def language_choose(request, language_code):
    """The language switch: remember the visitor's choice (Django's language cookie, which
    then wins over the browser's Accept-Language at "/") and show the page they were on in
    that language."""
    if language_code not in dict(settings.LANGUAGES):
        language_code = settings.LANGUAGE_CODE
    target = request.GET.get("next", "")
    if not url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        target = reverse("campaigns:home")
    # The address is read in its own language (i18n_patterns resolve only the active one).
    with translation.override(translation.get_language_from_path(target) or settings.LANGUAGE_CODE):
        response = HttpResponseRedirect(translate_url(target, language_code))
    response.set_cookie(
        settings.LANGUAGE_COOKIE_NAME,
        language_code,
        max_age=settings.LANGUAGE_COOKIE_AGE,
        path=settings.LANGUAGE_COOKIE_PATH,
        domain=settings.LANGUAGE_COOKIE_DOMAIN,
        secure=settings.LANGUAGE_COOKIE_SECURE,
        httponly=settings.LANGUAGE_COOKIE_HTTPONLY,
        samesite=settings.LANGUAGE_COOKIE_SAMESITE,
    )
    return response


@require_safe
@cache_control(max_age=24 * 60 * 60, public=True)
def favicon(request):
    """/favicon.ico, which browsers and feed readers ask for whatever the page says."""
    return HttpResponseRedirect(static("img/favicon.ico"))


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
    now = timezone.now()
    context = {
        "retention": [
            _retention(campaign, now)
            for campaign in Campaign.objects.public().order_by("-created_at")
        ],
        "mail_processor": mail_processor(),
        "confirmation_days": settings.LETTERS_CONFIRMATION_DAYS,
        "session_hours": max(1, settings.SESSION_COOKIE_AGE // 3600),
    }
    return render(request, "campaigns/privacy.html", context)


def _retention(campaign: Campaign, now) -> dict:
    """What the privacy page says of a campaign's erasure, from the purge's own rule
    (Campaign.personal_data_erased_at): when a letter written today is erased while the
    campaign takes letters, and when its last letters are once it has closed at a set time."""
    accepting = campaign.is_accepting_letters(now)
    if accepting:
        erased_on = campaign.personal_data_erased_at(now)
    elif campaign.closes_at:
        erased_on = campaign.personal_data_erased_at(campaign.closes_at)
    else:
        erased_on = None
    return {"campaign": campaign, "accepting": accepting, "erased_on": erased_on}


@never_cache
@require_safe
def healthz(request):
    report = {"database": health.database_status(connection), "broker": health.broker_status()}
    healthy = all(value in ("ok", "eager") for value in report.values())
    return JsonResponse(
        {"status": "ok" if healthy else "error", **report}, status=200 if healthy else 503
    )
