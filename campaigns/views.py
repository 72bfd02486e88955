from django.db import connection
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from . import health
from .models import render_letter_template, sample_placeholders
from .selectors import campaign_get_for_viewer, campaign_list_public, citation_numbers


@require_GET
def home(request):
    campaigns = list(campaign_list_public())
    if len(campaigns) == 1:
        return redirect(campaigns[0])
    return render(request, "campaigns/home.html", {"campaigns": campaigns})


@require_GET
def detail(request, slug):
    campaign = campaign_get_for_viewer(slug=slug, user=request.user)
    numbers = citation_numbers(campaign)
    talking_points = [
        (point, numbers.get(point.citation_id)) for point in campaign.talking_points.all()
    ]
    context = {
        "campaign": campaign,
        "phase": campaign.phase(),
        "talking_points": talking_points,
        "citations": list(campaign.citations.all()),
        "letter_subject": render_letter_template(
            (campaign.subject_list() or [""])[0], sample_placeholders()
        ),
        "letter_preview": render_letter_template(campaign.letter_template, sample_placeholders()),
        "progress": min(100, round(100 * campaign.letters_count / campaign.goal))
        if campaign.goal
        else 0,
    }
    return render(request, "campaigns/detail.html", context)


@require_GET
def privacy(request):
    return render(request, "campaigns/privacy.html", {"campaigns": campaign_list_public()})


@never_cache
@require_GET
def healthz(request):
    report = {"database": health.database_status(connection), "broker": health.broker_status()}
    healthy = all(value in ("ok", "eager") for value in report.values())
    return JsonResponse(
        {"status": "ok" if healthy else "error", **report}, status=200 if healthy else 503
    )
