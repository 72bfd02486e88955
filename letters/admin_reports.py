"""Admin pages for staff: signature counts per campaign, their CSV and XLSX, and the signer
download.

Counts carry no personal data: every staff member may see them. The signer download needs
the letters.export_signers permission, which nobody has until a superuser grants it.
The URLs are added to the admin by SignerExportLogAdmin.get_urls (letters/admin.py).
"""

import math

from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q
from django.http import StreamingHttpResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET

from campaigns.models import Campaign

from . import selectors
from .exporters import (
    CONTENT_TYPES,
    EXPORT_GROUPINGS,
    ResponsivenessExporter,
    SignersExporter,
    counts_exporter,
)
from .models import Delivery, SignerExportLog
from .selectors import (
    RESPONSIVENESS_CAVEAT,
    delivery_health,
    letter_counts,
    letters_per_day,
    personal_part_counts,
    responsiveness,
    responsiveness_totals,
)

GROUPING_LABELS = {
    "municipality": _("Municipality"),
    "province": _("Province"),
    "ward": _("Ward"),
    "day": _("Day"),
    "councillor": _("Councillor (responsiveness)"),
}
# The page lists this many groups; the CSV has them all.
TABLE_ROWS = 500
# The counts page reuses its figures this long (seconds); the CSV downloads always count anew.
REPORT_CACHE_SECONDS = 60
TOP_MUNICIPALITIES = 10
CHART_WIDTH = 720
CHART_HEIGHT = 220
# Room around the plot for the count labels (left) and the dates (below).
CHART_MARGIN = {"left": 48, "right": 12, "top": 10, "bottom": 28}
CHART_BAR_MAX = 28
CHART_Y_STEPS = 4
CHART_X_LABELS = 7


def get_urls(admin_site):
    def wrap(view):
        return admin_site.admin_view(require_GET(view))

    csv, xlsx = {"file_format": "csv"}, {"file_format": "xlsx"}
    return [
        path("counts/", wrap(counts_index), name="letters_counts_index"),
        path("counts/<int:campaign_id>/", wrap(counts_detail), name="letters_counts"),
        path(
            "counts/<int:campaign_id>/csv/", wrap(counts_download), csv, name="letters_counts_csv"
        ),
        path(
            "counts/<int:campaign_id>/xlsx/",
            wrap(counts_download),
            xlsx,
            name="letters_counts_xlsx",
        ),
        path(
            "counts/<int:campaign_id>/signers/",
            wrap(signers_download),
            csv,
            name="letters_signers_csv",
        ),
        path(
            "counts/<int:campaign_id>/signers/xlsx/",
            wrap(signers_download),
            xlsx,
            name="letters_signers_xlsx",
        ),
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
    if by not in EXPORT_GROUPINGS:
        by = "municipality"
    figures = _report_figures(campaign, by)
    rows, municipalities = figures["rows"], figures["municipalities"]
    days, health = figures["days"], figures["health"]
    exporter = counts_exporter(campaign=campaign, by=by)
    if by == "councillor":
        headers = [str(header) for header in ResponsivenessExporter.HEADERS]
        table = [ResponsivenessExporter.cells(row) for row in rows[:TABLE_ROWS]]
    else:
        headers = exporter.headers()
        table = [exporter.cells(row) for row in rows[:TABLE_ROWS]]
    totals = figures["totals"]
    context = {
        **_admin_context(request),
        "title": _("Signature counts: %(campaign)s") % {"campaign": campaign},
        "campaign": campaign,
        "by": by,
        "groupings": list(GROUPING_LABELS.items()),
        "headers": headers,
        "table": table,
        "group_count": len(rows),
        "truncated": len(rows) > TABLE_ROWS,
        "table_rows": TABLE_ROWS,
        "total": totals["letters"],
        "deliveries_sent": totals["deliveries_sent"],
        "responsiveness": figures["responsiveness"][:TOP_MUNICIPALITIES],
        "responsiveness_count": len(figures["responsiveness"]),
        "responsiveness_totals": responsiveness_totals(figures["responsiveness"]),
        "caveat": RESPONSIVENESS_CAVEAT,
        "top_municipalities": municipalities[:TOP_MUNICIPALITIES],
        "chart": chart_letters_per_day(days),
        "health": [
            (label, health[value], value)
            for value, label in Delivery.Status.choices
            if value != Delivery.Status.PENDING_CONFIRMATION
        ],
        "own_words": figures["own_words"][:TABLE_ROWS],
        "own_words_count": len(figures["own_words"]),
        "own_words_truncated": len(figures["own_words"]) > TABLE_ROWS,
        "own_words_total": _own_words_total(figures["own_words"]),
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


def _own_words_total(rows: list[dict]) -> dict:
    total = {
        key: sum(row[key] for row in rows) for key in ("letters", "personal", "near_identical")
    }
    total["share"] = round(100 * total["personal"] / total["letters"]) if total["letters"] else 0
    return total


def _report_figures(campaign: Campaign, by: str) -> dict:
    """Everything the counts page shows, kept for REPORT_CACHE_SECONDS.

    At a million letters the page runs about a second of GROUP BY queries per part; staff
    switching groupings or reloading get the figures again without recounting.
    """

    def compute():
        if by == "councillor":
            rows = responsiveness(campaign=campaign, by="councillor")
        else:
            rows = letter_counts(campaign=campaign, by=by)
        counted = (
            rows if by == "municipality" else letter_counts(campaign=campaign, by="municipality")
        )
        return {
            "rows": rows,
            "totals": {
                "letters": sum(row["letters"] for row in counted),
                "deliveries_sent": sum(row["deliveries_sent"] for row in counted),
            },
            "municipalities": counted[:TOP_MUNICIPALITIES],
            "responsiveness": responsiveness(campaign=campaign, by="council"),
            "days": letters_per_day(campaign=campaign),
            "health": delivery_health(campaign=campaign),
            "own_words": personal_part_counts(campaign=campaign, rows=counted),
            "as_of": timezone.now(),
        }

    return cache.get_or_set(
        # v2: rows with the own-words figures; figures cached before them are not read.
        f"letters:counts-page:v2:{campaign.pk}:{by}",
        compute,
        REPORT_CACHE_SECONDS,
    )


def counts_download(request, campaign_id, file_format):
    campaign = get_object_or_404(Campaign, pk=campaign_id)
    by = request.GET.get("by", "municipality")
    if by not in EXPORT_GROUPINGS:
        by = "municipality"
    return _download_response(counts_exporter(campaign=campaign, by=by), file_format)


def signers_download(request, campaign_id, file_format):
    if not request.user.has_perm("letters.export_signers"):
        raise PermissionDenied
    campaign = get_object_or_404(Campaign, pk=campaign_id)
    exporter = SignersExporter(
        campaign=campaign,
        consented_only=request.GET.get("consented_only") == "1",
        user=request.user,
        source=SignerExportLog.Source.ADMIN,
    )
    response = _download_response(exporter, file_format)
    # Personal data: no copy in shared caches or the browser's cache.
    response["Cache-Control"] = "no-store, private"
    return response


def _download_response(exporter, file_format: str) -> StreamingHttpResponse:
    response = StreamingHttpResponse(
        exporter.render(file_format), content_type=CONTENT_TYPES[file_format]
    )
    filename = exporter.get_filename(file_format)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _admin_context(request) -> dict:
    from django.contrib import admin

    return admin.site.each_context(request)


def chart_letters_per_day(days, *, width: int = CHART_WIDTH, height: int = CHART_HEIGHT) -> dict:
    """An inline SVG bar chart of letters per day, with axes (no JavaScript, nothing fetched).

    The y axis counts letters, from 0 to a round number at or above the busiest day, with a
    line at each step; the x axis labels up to CHART_X_LABELS days. Bars are at most
    CHART_BAR_MAX wide and centred on their day, so a single day draws a single bar.
    """
    if not days:
        return {"bars": [], "width": width, "height": height}
    left, right = CHART_MARGIN["left"], width - CHART_MARGIN["right"]
    top, bottom = CHART_MARGIN["top"], height - CHART_MARGIN["bottom"]
    busiest = max(count for _day, count in days)
    step = _round_step(busiest / CHART_Y_STEPS)
    y_max = step * max(1, math.ceil(busiest / step))

    def y_of(value):
        return round(bottom - (bottom - top) * value / y_max, 1)

    slot = (right - left) / len(days)
    bar_width = min(max(slot * 0.8, 1), CHART_BAR_MAX)
    every = math.ceil(len(days) / CHART_X_LABELS)
    bars, x_ticks = [], []
    for index, (day, count) in enumerate(days):
        centre = left + (index + 0.5) * slot
        bars.append(
            {
                "x": round(centre - bar_width / 2, 1),
                "y": y_of(count),
                "width": round(bar_width, 1),
                "height": round(bottom - y_of(count), 1),
                "day": day,
                "count": count,
            }
        )
        if index % every == 0:
            x_ticks.append(
                {"x": round(centre, 1), "day": day, "label": date_format(day, "MONTH_DAY_FORMAT")}
            )
    return {
        "bars": bars,
        "width": width,
        "height": height,
        "left": left,
        "right": right,
        "top": top,
        "bottom": bottom,
        "y_ticks": [{"y": y_of(value), "value": value} for value in range(0, y_max + 1, step)],
        "x_ticks": x_ticks,
        "tick_label_y": bottom + 16,
        "y_label_x": left - 6,
        "max": busiest,
        "first": days[0][0],
        "last": days[-1][0],
    }


def _round_step(raw: float) -> int:
    """The smallest of 1, 2, 5, 10, 20, 50... at or above raw."""
    magnitude = 1
    while True:
        for factor in (1, 2, 5):
            if factor * magnitude >= raw:
                return factor * magnitude
        magnitude *= 10
