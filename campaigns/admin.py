from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.utils.translation import gettext_lazy as _
from modeltranslation.admin import TabbedTranslationAdmin, TranslationTabularInline
from simple_history.admin import SimpleHistoryAdmin

from councils.models import Role

from .models import Campaign, CampaignPrompt, Citation, TalkingPoint


class HistoryAdmin(SimpleHistoryAdmin):
    """SimpleHistoryAdmin whose old versions only someone who may change the object can save.

    django-simple-history shows an old version as a full form to anyone who may view the
    object, and saves whatever is posted to it: a view-only user could rewrite a campaign.
    """

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        if request.method == "POST" and not self.has_change_permission(request):
            raise PermissionDenied
        return super().history_form_view(request, object_id, version_id, extra_context)


class CampaignAdminForm(forms.ModelForm):
    target_roles = forms.MultipleChoiceField(
        label=_("Target roles"),
        choices=Role.choices,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("Which representatives receive the letter."),
    )

    class Meta:
        model = Campaign
        # The admin adds every other field from CampaignAdmin.fieldsets.
        fields = ("target_roles",)


class CitationInline(TranslationTabularInline):
    model = Citation
    extra = 0
    fields = ("order", "title", "publisher", "published_on", "url")


class CampaignPromptInline(TranslationTabularInline):
    model = CampaignPrompt
    extra = 0
    max_num = 3
    fields = ("order", "text")
    verbose_name = _("prompt for the resident's own words")
    verbose_name_plural = _("Prompts for the resident's own words (two or three questions)")


class TalkingPointInline(TranslationTabularInline):
    model = TalkingPoint
    extra = 0
    fields = ("order", "text", "citation")

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        # Only the citations of the campaign being edited.
        if db_field.name == "citation":
            object_id = request.resolver_match.kwargs.get("object_id")
            kwargs["queryset"] = Citation.objects.filter(campaign_id=object_id or 0)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


@admin.register(Campaign)
class CampaignAdmin(HistoryAdmin, TabbedTranslationAdmin):
    form = CampaignAdminForm
    list_display = ("title", "slug", "status", "opens_at", "closes_at", "letters_count", "goal")
    list_filter = ("status", "default_language", "editing_mode", "requires_confirmation")
    search_fields = ("title_en", "title_fr", "slug")
    prepopulated_fields = {"slug": ("title_en",)}
    readonly_fields = ("letters_count", "created_at", "updated_at")
    inlines = [CampaignPromptInline, CitationInline, TalkingPointInline]
    history_list_display = ("status",)

    class Media:
        # Fits the form, inlines included, in a 1,280 px window.
        css = {"all": ["css/admin-campaign.css"]}

    fieldsets = (
        (None, {"fields": ("slug", "status", "opens_at", "closes_at", "default_language")}),
        (_("Page"), {"fields": ("title", "summary", "body")}),
        (
            _("Letter"),
            {
                "fields": (
                    "letter_subjects",
                    "letter_template",
                    "personal_prompt",
                    "editing_mode",
                    "target_roles",
                    "recipient_scope",
                    "include_upper_tier",
                    "send_mode",
                    "requires_confirmation",
                    "hold_after_election",
                )
            },
        ),
        (
            _("Delivery to councils"),
            {
                "fields": (
                    "schedule",
                    "office_hours_only",
                    "clerk_mode",
                    "clerk_agenda_item",
                    "clerk_deadline",
                )
            },
        ),
        (_("After sending"), {"fields": ("thanks_text", "share_text", "goal", "letters_count")}),
        (_("Press contact"), {"fields": ("press_name", "press_phone", "press_email")}),
        (
            _("Sending identity and data"),
            {"fields": ("organization_name", "sender_email", "retention_days")},
        ),
        (_("Record"), {"fields": ("created_at", "updated_at")}),
    )


@admin.register(Citation)
class CitationAdmin(HistoryAdmin, TabbedTranslationAdmin):
    list_display = ("title", "publisher", "published_on", "campaign", "order")
    list_filter = ("campaign", "publisher")
    search_fields = ("title_en", "title_fr", "publisher", "url")


@admin.register(TalkingPoint)
class TalkingPointAdmin(HistoryAdmin, TabbedTranslationAdmin):
    list_display = ("__str__", "campaign", "order", "citation")
    list_filter = ("campaign",)
    search_fields = ("text_en", "text_fr")


@admin.register(CampaignPrompt)
class CampaignPromptAdmin(HistoryAdmin, TabbedTranslationAdmin):
    list_display = ("__str__", "campaign", "order")
    list_filter = ("campaign",)
    search_fields = ("text_en", "text_fr")
