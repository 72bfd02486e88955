"""The admin's council delivery page: per council, what was sent, what is due, held, bounced
and failed, which councils' mail servers block ours, and the button that resumes them.

Reached from Letters › Deliveries (DeliveryAdmin.get_urls, letters/admin.py). Everyone who
may view deliveries sees it; resuming needs letters.change_delivery.
"""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from councils.models import Municipality

from . import delivery_events
from .selectors import council_delivery_counts


def get_urls(admin_site):
    def council_delivery_view(request):
        return council_delivery(request, admin_site)

    return [
        path(
            "councils/",
            admin_site.admin_view(require_GET(council_delivery_view)),
            name="letters_council_delivery",
        ),
        path(
            "councils/<int:municipality_id>/resume/",
            admin_site.admin_view(require_POST(council_resume)),
            name="letters_council_resume",
        ),
    ]


def council_delivery(request, admin_site):
    if not request.user.has_perm("letters.view_delivery"):
        raise PermissionDenied
    context = {
        **admin_site.each_context(request),
        "title": _("Council delivery"),
        "rows": council_delivery_counts(),
        "can_resume": request.user.has_perm("letters.change_delivery"),
    }
    return TemplateResponse(request, "admin/letters/council_delivery.html", context)


def council_resume(request, municipality_id):
    if not request.user.has_perm("letters.change_delivery"):
        raise PermissionDenied
    municipality = get_object_or_404(Municipality, pk=municipality_id)
    released = delivery_events.council_mail_resume(municipality=municipality)
    messages.success(
        request,
        _("Sending to %(council)s resumed: %(count)d emails released, paced as usual.")
        % {"council": municipality.name, "count": released},
    )
    return redirect("admin:letters_council_delivery")
