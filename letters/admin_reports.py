"""Admin pages for staff: signature counts per campaign, their CSV, and the signer download.

Counts carry no personal data: every staff member may see them. The signer download needs
the letters.export_signers permission, which nobody has until a superuser grants it.
The URLs are added to the admin by SignerExportLogAdmin.get_urls (letters/admin.py).
"""

from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q
from django.http import StreamingHttpResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET

from campaigns.models import Campaign

from . import selectors
from .exporters import CountsExporter, SignersExporter
from .models import Delivery, SignerExportLog
from .selectors import COUNT_GROUPINGS, delivery_health, letter_counts, letters_per_day

GROUPING_LABELS = {
    "municipality": _("Municipality"),
    "province": _("Province"),
    "ward": _("Ward"),
    "day": _("Day"),
}
# The page lists this many groups; the CSV has them all.
TABLE_ROWS = 500
# The counts page reuses its figures this long (seconds); the CSV downloads always count anew.
REPORT_CACHE_SECONDS = 60
TOP_MUNICIPALITIES = 10
CHART_WIDTH = 720
CHART_HEIGHT = 180


def get_urls(admin_site):
    def wrap(view):
        return admin_site.admin_view(require_GET(view))

    return [
        path("counts/", wrap(counts_index), name="letters_counts_index"),
        path("counts/<int:campaign_id>/", wrap(counts_detail), name="letters_counts"),
        path("counts/<int:campaign_id>/csv/", wrap(counts_csv), name="letters_counts_csv"),
        path("counts/<int:campaign_id>/signers/", wrap(signers_csv), name="letters_signers_csv"),
        path("councils-waiting/", wrap(councils_waiting), name="letters_councils_waiting"),
        path(
            "councils-waiting/<int:campaign_id>/",
            wrap(councils_waiting),
            name="letters_councils_waiting",
        ),
    ]


def counts_index(request):
    campaigns = Campaign.objects.annotate(
        counted=Count(
            "letters",
            filter=Q(letters__is_test=False, letters__confirmed_at__isnull=False),
        )
    ).order_by("-created_at")
    context = {
        **_admin_context(request),
        "title": _("Signature counts"),
        "campaigns": campaigns,
    }
    return TemplateResponse(request, "admin/letters/counts_index.html", context)


def counts_detail(request, campaign_id):
    campaign = get_object_or_404(Campaign, pk=campaign_id)
    by = request.GET.get("by", "municipality")
    if by not in COUNT_GROUPINGS:
        by = "municipality"
    figures = _report_figures(campaign, by)
    rows, municipalities = figures["rows"], figures["municipalities"]
    days, health = figures["days"], figures["health"]
    exporter = CountsExporter(campaign=campaign, by=by)
    context = {
        **_admin_context(request),
        "title": _("Signature counts: %(campaign)s") % {"campaign": campaign},
        "campaign": campaign,
        "by": by,
        "groupings": list(GROUPING_LABELS.items()),
        "headers": [str(header) for header in exporter.HEADERS[by]],
        "table": [
            [row[column] for column in [*exporter.COLUMNS[by], "letters", "deliveries_sent"]]
            for row in rows[:TABLE_ROWS]
        ],
        "group_count": len(rows),
        "truncated": len(rows) > TABLE_ROWS,
        "table_rows": TABLE_ROWS,
        "total": sum(row["letters"] for row in rows),
        "deliveries_sent": sum(row["deliveries_sent"] for row in rows),
        "top_municipalities": municipalities[:TOP_MUNICIPALITIES],
        "chart": chart_letters_per_day(days),
        "health": [
            (label, health[value], value)
            for value, label in Delivery.Status.choices
            if value != Delivery.Status.PENDING_CONFIRMATION
        ],
        "can_export_signers": request.user.has_perm("letters.export_signers"),
        "as_of": figures["as_of"],
        "cache_seconds": REPORT_CACHE_SECONDS,
    }
    return TemplateResponse(request, "admin/letters/counts.html", context)


def councils_waiting(request, campaign_id=None):
    """Councils without contacts ranked by the residents waiting for them, for one campaign
    or all: where importing contacts sends the most letters."""
    campaign = get_object_or_404(Campaign, pk=campaign_id) if campaign_id else None
    rows = selectors.councils_waiting(campaign=campaign)
    title = (
        _("Councils without contacts: %(campaign)s") % {"campaign": campaign}
        if campaign
        else _("Councils without contacts")
    )
    context = {
        **_admin_context(request),
        "title": title,
        "campaign": campaign,
        "campaigns": Campaign.objects.exclude(status=Campaign.Status.DRAFT).order_by("-created_at"),
        "rows": rows[:TABLE_ROWS],
        "council_count": len(rows),
        "truncated": len(rows) > TABLE_ROWS,
        "table_rows": TABLE_ROWS,
        "waiting": sum(row["waiting"] for row in rows),
    }
    return TemplateResponse(request, "admin/letters/councils_waiting.html", context)


def _report_figures(campaign: Campaign, by: str) -> dict:
    """Everything the counts page shows, kept for REPORT_CACHE_SECONDS.

    At a million letters the page runs about a second of GROUP BY queries per part; staff
    switching groupings or reloading get the figures again without recounting.
    """

    def compute():
        rows = letter_counts(campaign=campaign, by=by)
        return {
            "rows": rows,
            "municipalities": (
                rows[:TOP_MUNICIPALITIES]
                if by == "municipality"
                else letter_counts(campaign=campaign, by="municipality")[:TOP_MUNICIPALITIES]
            ),
            "days": letters_per_day(campaign=campaign),
            "health": delivery_health(campaign=campaign),
            "as_of": timezone.now(),
        }

    return cache.get_or_set(
        f"letters:counts-page:{campaign.pk}:{by}", compute, REPORT_CACHE_SECONDS
    )


def counts_csv(request, campaign_id):
    campaign = get_object_or_404(Campaign, pk=campaign_id)
    by = request.GET.get("by", "municipality")
    if by not in COUNT_GROUPINGS:
        by = "municipality"
    return _csv_response(CountsExporter(campaign=campaign, by=by))


def signers_csv(request, campaign_id):
    if not request.user.has_perm("letters.export_signers"):
        raise PermissionDenied
    campaign = get_object_or_404(Campaign, pk=campaign_id)
    exporter = SignersExporter(
        campaign=campaign,
        consented_only=request.GET.get("consented_only") == "1",
        user=request.user,
        source=SignerExportLog.Source.ADMIN,
    )
    response = _csv_response(exporter)
    # Personal data: no copy in shared caches or the browser's cache.
    response["Cache-Control"] = "no-store, private"
    return response


def _csv_response(exporter) -> StreamingHttpResponse:
    response = StreamingHttpResponse(exporter.iter_csv(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{exporter.get_filename()}"'
    return response


def _admin_context(request) -> dict:
    from django.contrib import admin

    return admin.site.each_context(request)


def chart_letters_per_day(days, *, width: int = CHART_WIDTH, height: int = CHART_HEIGHT) -> dict:
    """Bars for an inline SVG chart of letters per day (no JavaScript, nothing fetched)."""
    if not days:
        return {"bars": [], "width": width, "height": height}
    top = max(count for _day, count in days) or 1
    slot = width / len(days)
    bar_width = max(slot * 0.8, 1)
    bars = []
    for index, (day, count) in enumerate(days):
        bar_height = round(height * count / top, 1)
        bars.append(
            {
                "x": round(index * slot, 1),
                "y": round(height - bar_height, 1),
                "width": round(bar_width, 1),
                "height": bar_height,
                "day": day,
                "count": count,
            }
        )
    return {
        "bars": bars,
        "width": width,
        "height": height,
        "max": top,
        "first": days[0][0],
        "last": days[-1][0],
    }
