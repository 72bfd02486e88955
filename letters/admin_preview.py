"""Organizer tools on a campaign: preview the letter for any municipality, send a test.

The URL is added to the admin by LetterAdmin.get_urls (letters/admin.py); the campaign's
admin page links to it.
"""

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from campaigns.models import Campaign
from councils.models import Municipality
from councils.selectors import municipality_choices

from . import services

PICKER_LIMIT = 300


class PreviewForm(forms.Form):
    q = forms.CharField(label=gettext_lazy("Search municipalities"), required=False)
    municipality = forms.TypedChoiceField(
        label=gettext_lazy("Municipality"), coerce=int, required=False
    )
    language = forms.ChoiceField(label=gettext_lazy("Language"), choices=Campaign.LANGUAGE_CHOICES)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        query = (self.data.get("q") or "").strip() if self.is_bound else ""
        listed = list(municipality_choices(query=query)[:PICKER_LIMIT])
        chosen = self.data.get("municipality") if self.is_bound else None
        if chosen and str(chosen).isdigit() and all(str(m.pk) != chosen for m in listed):
            # Keep the current choice selectable even when the search no longer lists it.
            listed += list(Municipality.objects.filter(pk=chosen))
        self.fields["municipality"].choices = [("", "---------")] + [(m.pk, str(m)) for m in listed]


def get_urls(admin_site):
    def view(request, campaign_id):
        return campaign_letter_preview(request, campaign_id, admin_site=admin_site)

    return [path("preview/<int:campaign_id>/", admin_site.admin_view(view), name="letters_preview")]


def campaign_letter_preview(request, campaign_id, *, admin_site):
    if not request.user.has_perm("campaigns.change_campaign"):
        raise PermissionDenied
    campaign = get_object_or_404(Campaign, pk=campaign_id)
    data = request.GET.copy() if request.GET else None
    if data is not None and "language" not in data:
        data["language"] = campaign.default_language
    form = PreviewForm(data, initial={"language": campaign.default_language})
    municipality = language = None
    if form.is_valid() and form.cleaned_data.get("municipality"):
        municipality = Municipality.objects.filter(pk=form.cleaned_data["municipality"]).first()
        language = form.cleaned_data["language"]

    if request.method == "POST":
        if municipality is None:
            messages.error(request, _("Choose a municipality first."))
        else:
            try:
                letter = services.letter_test_send(
                    campaign=campaign,
                    municipality=municipality,
                    language=language,
                    user=request.user,
                )
            except ValidationError as exc:
                messages.error(request, " ".join(exc.messages))
            else:
                messages.success(
                    request,
                    _("A test letter is on its way to %(email)s.") % {"email": letter.email},
                )
        return redirect(
            reverse("admin:letters_preview", args=[campaign.pk]) + "?" + request.GET.urlencode()
        )

    context = {
        **admin_site.each_context(request),
        "title": _("Preview the letter: %(title)s") % {"title": campaign.title},
        "campaign": campaign,
        "form": form,
        "municipality": municipality,
        "opts": Campaign._meta,
    }
    if municipality is not None:
        context.update(
            services.letter_test_preview(
                campaign=campaign, municipality=municipality, language=language, user=request.user
            )
        )
    return TemplateResponse(request, "admin/letters/preview.html", context)
