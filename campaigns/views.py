from django.db import connection
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from . import health
from .selectors import campaign_list_public


@require_GET
def home(request):
    campaigns = list(campaign_list_public())
    if len(campaigns) == 1:
        return redirect(campaigns[0])
    return render(request, "campaigns/home.html", {"campaigns": campaigns})


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
