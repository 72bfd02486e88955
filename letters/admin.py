from csp.decorators import csp
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models.constants import LOOKUP_SEP
from django.http import Http404, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.decorators import method_decorator
from django.utils.html import format_html, urlize
from django.utils.safestring import mark_safe
from django.utils.text import Truncator
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from django.views.decorators.clickjacking import xframe_options_sameorigin
from django.views.decorators.http import require_GET

from . import admin_councils, admin_preview, admin_reports, replies_and_updates, services
from .models import (
    BlockedSender,
    CampaignUpdate,
    Delivery,
    Letter,
    OutboxMessage,
    OutgoingMail,
    Reply,
    SignerExportLog,
)
from .selectors import delivery_health_counts, update_recipient_count


class DeliveryInline(admin.TabularInline):
    model = Delivery
    extra = 0
    fields = (
        "recipient_name",
        "recipient_email",
        "status",
        "mail",
        "sent_at",
        "delivered_at",
        "last_error",
    )
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


# Whoever holds one of these can confirm or delete the resident's letter: no admin page shows
# them, to anyone, and no search or filter reaches them.
TOKEN_FIELDS = ("token", "confirmation_token")
# What the resident typed or chose: only for users with letters.view_personal_data.
PERSONAL_FIELDS = (
    "first_name",
    "last_name",
    "email",
    "email_canonical",
    "postal_code",
    "street_address",
    "send_copy",
    "consent_given",
    "consent_text",
    "consent_language",
    "consent_at",
    "hold_consent",
    "hold_consent_text",
    "hold_consent_language",
    "hold_consent_at",
    "followup_consent",
    "followup_consent_text",
    "followup_consent_at",
    "unsubscribed_at",
    "subject",
    "body",
    "personal_message",
)


def sees_personal_data(request) -> bool:
    return request.user.has_perm("letters.view_personal_data")


@admin.register(Letter)
class LetterAdmin(admin.ModelAdmin):
    """Letters. The resident's data (PERSONAL_FIELDS) shows only to users with
    letters.view_personal_data; the others see where and when, the FSA and the deliveries."""

    list_display = ("created_at", "campaign", "municipality", "status", "language", "is_test")
    list_filter = (
        "campaign",
        "status",
        "hold_reason",
        "language",
        "is_test",
        "municipality__province",
        "has_personal_part",
        "personal_near_duplicate",
    )
    date_hierarchy = "created_at"
    list_select_related = ("campaign", "municipality")
    inlines = [DeliveryInline]
    raw_id_fields = ("municipality", "ward")
    # Set by Send (letters.near_duplicates); they survive the erasure of personal data.
    readonly_fields = ("fsa", "has_personal_part", "personal_near_duplicate")
    actions = ["block_senders", "resend_failed_deliveries"]
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "campaign",
                    "municipality",
                    "ward",
                    "fsa",
                    "status",
                    "language",
                    "is_test",
                )
            },
        ),
        (
            _("Resident"),
            {
                "fields": (
                    "first_name",
                    "last_name",
                    "email",
                    "email_canonical",
                    "postal_code",
                    "street_address",
                    "send_copy",
                )
            },
        ),
        (
            _("Consent"),
            {"fields": ("consent_given", "consent_text", "consent_language", "consent_at")},
        ),
        (
            _("Did council reply?"),
            {
                "fields": (
                    "followup_consent",
                    "followup_consent_text",
                    "followup_consent_at",
                    "followup_sent_at",
                    "unsubscribed_at",
                )
            },
        ),
        (
            _("Held letter"),
            {
                "fields": (
                    "hold_reason",
                    "held_since",
                    "held_for_election",
                    "released_at",
                    "hold_consent",
                    "hold_consent_text",
                    "hold_consent_language",
                    "hold_consent_at",
                )
            },
        ),
        (
            _("Letter"),
            {
                "fields": (
                    "subject",
                    "body",
                    "personal_message",
                    "has_personal_part",
                    "personal_near_duplicate",
                    "talking_points",
                )
            },
        ),
        (
            _("Record"),
            {
                "fields": (
                    "created_at",
                    "confirmation_sent_at",
                    "confirmed_at",
                    "purged_at",
                )
            },
        ),
    )

    def get_fieldsets(self, request, obj=None):
        # The FSA stands in for the postal code for those who may not see it.
        hidden = ("fsa",) if sees_personal_data(request) else PERSONAL_FIELDS
        fieldsets = []
        for name, options in self.fieldsets:
            fields = [field for field in options["fields"] if field not in hidden]
            if fields:
                fieldsets.append((name, {**options, "fields": fields}))
        return fieldsets

    def get_search_fields(self, request):
        # Searching by an address or a name would tell whether that person wrote.
        if sees_personal_data(request):
            return ("email", "last_name", "postal_code", "municipality__name")
        return ("municipality__name",)

    def lookup_allowed(self, lookup, value, request=None):
        # Django allows any lookup on a local field in the query string (?email=...), which
        # would answer the same question as a search.
        field = lookup.split(LOOKUP_SEP, 1)[0]
        if field in TOKEN_FIELDS:
            return False
        if field in PERSONAL_FIELDS and not (request and sees_personal_data(request)):
            return False
        return super().lookup_allowed(lookup, value, request)

    @admin.display(description=_("FSA"))
    def fsa(self, obj):
        return obj.postal_code[:3]

    def get_urls(self):
        return admin_preview.get_urls(self.admin_site) + super().get_urls()

    @admin.action(
        description=_("Block the email addresses of the selected letters"),
        permissions=["block_senders"],
    )
    def block_senders(self, request, queryset):
        emails = {email.lower() for email in queryset.values_list("email", flat=True) if email}
        for email in emails:
            services.blocked_sender_create(
                kind=BlockedSender.Kind.EMAIL,
                value=email,
                reason=_("Blocked from the letters list"),
                user=request.user,
            )
        self.message_user(
            request,
            ngettext("%(count)d address blocked.", "%(count)d addresses blocked.", len(emails))
            % {"count": len(emails)},
        )

    def has_block_senders_permission(self, request):
        return request.user.has_perm("letters.add_blockedsender")

    @admin.action(
        description=_("Resend the failed deliveries of the selected letters"),
        permissions=["resend_deliveries"],
    )
    def resend_failed_deliveries(self, request, queryset):
        deliveries = Delivery.objects.filter(letter__in=queryset)
        _report_resend(self, request, services.deliveries_resend(deliveries=deliveries))

    def has_resend_deliveries_permission(self, request):
        # The same right as DeliveryAdmin.resend_failed: changing deliveries.
        return request.user.has_perm("letters.change_delivery")


def _report_resend(model_admin, request, count: int) -> None:
    model_admin.message_user(
        request,
        ngettext(
            "%(count)d failed delivery queued for a new attempt.",
            "%(count)d failed deliveries queued for a new attempt.",
            count,
        )
        % {"count": count},
    )


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin):
    """Deliveries, read-only: their status changes only through the delivery services.

    The list starts with delivery health: counts per campaign and status.
    """

    list_display = (
        "recipient_name",
        "recipient_email",
        "campaign",
        "status",
        "mail",
        "sent_at",
        "updated_at",
        "short_error",
    )
    list_filter = ("status", "letter__campaign", "letter__is_test")
    search_fields = ("recipient_name", "recipient_email", "esp_message_id", "mail__message_id")
    list_select_related = ("letter__campaign",)
    date_hierarchy = "updated_at"
    raw_id_fields = ("letter", "representative", "mail")
    actions = ["resend_failed"]
    change_list_template = "admin/letters/delivery/change_list.html"

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in self.model._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description=_("campaign"), ordering="letter__campaign")
    def campaign(self, obj):
        return obj.letter.campaign.slug

    @admin.display(description=_("last error"))
    def short_error(self, obj):
        return Truncator(obj.last_error).chars(80)

    @admin.action(description=_("Resend the selected failed deliveries"), permissions=["change"])
    def resend_failed(self, request, queryset):
        _report_resend(self, request, services.deliveries_resend(deliveries=queryset))

    def get_urls(self):
        return admin_councils.get_urls(self.admin_site) + super().get_urls()

    def lookup_allowed(self, lookup, value, request=None):
        # The council delivery page (admin_councils) links each of its counts to those
        # deliveries; a filter in the sidebar would list every municipality of Canada.
        if lookup == "letter__municipality__id__exact":
            return True
        return super().lookup_allowed(lookup, value, request)

    def changelist_view(self, request, extra_context=None):
        statuses = Delivery.Status.choices
        health = [
            {**row, "cells": [row["counts"].get(value, 0) for value, _label in statuses]}
            for row in delivery_health_counts()
        ]
        extra_context = {**(extra_context or {}), "health": health, "health_statuses": statuses}
        return super().changelist_view(request, extra_context=extra_context)


@admin.register(OutgoingMail)
class OutgoingMailAdmin(admin.ModelAdmin):
    """Every email the app sends, read-only: the sender (letters.sending) changes them. The
    erasure notice's address shows only to users who may see personal data."""

    list_display = ("created_at", "kind", "status", "letter", "attempts", "send_after", "sent_at")
    list_filter = ("kind", "status", "letter__campaign")
    search_fields = ("message_id",)
    date_hierarchy = "created_at"
    list_select_related = ("letter__municipality",)
    raw_id_fields = ("letter",)

    def get_fields(self, request, obj=None):
        fields = [field.name for field in self.model._meta.fields if field.name != "id"]
        if not sees_personal_data(request):
            fields.remove("to_email")
        return fields

    def get_readonly_fields(self, request, obj=None):
        return self.get_fields(request, obj)

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


# The HTML part of a kept email is shown in a sandboxed frame (no scripts, its own origin) and
# served with a policy of its own: nothing loads from anywhere (images only from data: URLs),
# its inline styles apply, and only the admin's own pages may frame it. The site's policy
# (frame-ancestors 'none', X-Frame-Options DENY) stays as it is everywhere else.
OUTBOX_HTML_CSP = {
    "default-src": ["'none'"],
    "img-src": ["data:"],
    "style-src": ["'unsafe-inline'"],
    "base-uri": ["'none'"],
    "form-action": ["'none'"],
    "frame-ancestors": ["'self'"],
    "sandbox": True,
}


@admin.register(OutboxMessage)
class OutboxMessageAdmin(admin.ModelAdmin):
    """Mail kept on this machine by the embedded default (nothing was sent anywhere)."""

    list_display = ("created_at", "subject", "to", "from_email")
    search_fields = ("subject", "to", "message_id")
    date_hierarchy = "created_at"
    fields = readonly_fields = (
        "created_at",
        "message_id",
        "from_email",
        "to",
        "reply_to",
        "subject",
        "text_part",
        "html_part",
        "raw_message",
    )

    class Media:
        css = {"all": ["css/admin-outbox.css"]}

    def get_urls(self):
        return [
            path(
                "<int:object_id>/html/",
                self.admin_site.admin_view(self.html_view),
                name="letters_outboxmessage_html",
            ),
            *super().get_urls(),
        ]

    @admin.display(description=_("text"))
    def text_part(self, obj):
        # urlize escapes the text and links the addresses in it (the confirmation link...), as
        # the template filter of that name does.
        linked = mark_safe(urlize(obj.body, nofollow=True, autoescape=True))
        return format_html('<div class="outbox-text">{}</div>', linked)

    @admin.display(description=_("HTML"))
    def html_part(self, obj):
        if not obj.html:
            return "-"
        return format_html(
            '<iframe class="outbox-html" sandbox="" src="{}" title="{}"></iframe>',
            reverse("admin:letters_outboxmessage_html", args=[obj.pk]),
            _("The email's HTML part"),
        )

    @admin.display(description=_("raw message"))
    def raw_message(self, obj):
        return format_html(
            '<details><summary>{}</summary><pre class="outbox-raw">{}</pre></details>',
            _("Show the raw message"),
            obj.raw,
        )

    @method_decorator(require_GET)
    @method_decorator(xframe_options_sameorigin)
    @method_decorator(csp(OUTBOX_HTML_CSP))
    def html_view(self, request, object_id):
        """The HTML part of a kept email, for html_part's frame."""
        message = self.get_object(request, str(object_id))
        if not self.has_view_permission(request, message):
            raise PermissionDenied
        if message is None:
            raise Http404
        return HttpResponse(message.html, content_type="text/html; charset=utf-8")

    def has_module_permission(self, request):
        return sees_personal_data(request) and super().has_module_permission(request)

    def has_view_permission(self, request, obj=None):
        # Whole emails to and from residents: their names, addresses and messages.
        return sees_personal_data(request) and super().has_view_permission(request, obj)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return sees_personal_data(request) and super().has_delete_permission(request, obj)


@admin.register(BlockedSender)
class BlockedSenderAdmin(admin.ModelAdmin):
    list_display = ("kind", "value", "reason", "created_by", "created_at")
    list_filter = ("kind",)
    search_fields = ("value", "reason")


@admin.register(SignerExportLog)
class SignerExportLogAdmin(admin.ModelAdmin):
    """The record of signer exports, read-only; also hosts the signature-count pages."""

    list_display = ("started_at", "campaign", "actor", "source", "consented_only", "rows")
    list_filter = ("campaign", "source", "consented_only")
    search_fields = ("actor",)
    date_hierarchy = "started_at"
    list_select_related = ("campaign",)

    def get_urls(self):
        return admin_reports.get_urls(self.admin_site) + super().get_urls()

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(CampaignUpdate)
class CampaignUpdateAdmin(admin.ModelAdmin):
    """News for the residents who asked to be kept updated, written in English and French.

    It goes out once, from its page's "Send to residents who opted in" button (or the list's
    action of that name), after a page that says to how many; only users with
    letters.send_campaignupdate (the Organizers group) may send. Once sent it stays as sent.
    """

    list_display = ("subject_en", "campaign", "created_at", "sent_at", "recipients")
    list_filter = ("campaign", ("sent_at", admin.EmptyFieldListFilter))
    search_fields = ("subject_en", "subject_fr")
    date_hierarchy = "created_at"
    list_select_related = ("campaign",)
    fields = (
        "campaign",
        "subject_en",
        "body_en",
        "subject_fr",
        "body_fr",
        "created_by",
        "created_at",
        "sent_at",
        "recipients",
    )
    actions = ["send_to_residents"]
    change_form_template = "admin/letters/campaignupdate/change_form.html"

    def get_readonly_fields(self, request, obj=None):
        if obj is not None and obj.sent_at:
            return self.fields  # as it was sent
        return ("created_by", "created_at", "sent_at", "recipients")

    def has_delete_permission(self, request, obj=None):
        # A sent update is the record of what residents received.
        if obj is not None and obj.sent_at:
            return False
        return super().has_delete_permission(request, obj)

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)

    def has_send_permission(self, request):
        return request.user.has_perm("letters.send_campaignupdate")

    def get_urls(self):
        return [
            path(
                "<int:object_id>/send/",
                self.admin_site.admin_view(self.send_view),
                name="letters_campaignupdate_send",
            ),
            *super().get_urls(),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "can_send": self.has_send_permission(request),
        }
        return super().change_view(request, object_id, form_url, extra_context)

    @admin.action(description=_("Send to residents who opted in"), permissions=["send"])
    def send_to_residents(self, request, queryset):
        if len(queryset) != 1:
            self.message_user(request, _("Choose one update to send."), messages.WARNING)
            return None
        return redirect("admin:letters_campaignupdate_send", queryset[0].pk)

    def send_view(self, request, object_id):
        """GET: to how many residents the update would go; POST: send it, once."""
        if request.method not in ("GET", "HEAD", "POST"):
            return HttpResponse(status=405)
        if not self.has_send_permission(request):
            raise PermissionDenied
        update = self.get_object(request, str(object_id))
        if update is None:
            raise Http404
        change_url = reverse("admin:letters_campaignupdate_change", args=[update.pk])
        if request.method == "POST":
            try:
                count = replies_and_updates.campaign_update_send(update=update)
            except replies_and_updates.UpdateAlreadySent:
                self.message_user(
                    request, _("This update was sent already: it goes out once."), messages.ERROR
                )
            else:
                self.message_user(
                    request,
                    ngettext(
                        "The update is on its way to %(count)d resident.",
                        "The update is on its way to %(count)d residents.",
                        count,
                    )
                    % {"count": count},
                )
            return redirect(change_url)
        context = {
            **self.admin_site.each_context(request),
            "title": _("Send this update?"),
            "opts": self.model._meta,
            "update": update,
            "count": update_recipient_count(campaign_id=update.campaign_id),
            "change_url": change_url,
        }
        return TemplateResponse(request, "admin/letters/campaignupdate/send.html", context)


# What a resident wrote of a council's reply: only for users with letters.view_personal_data.
REPLY_PERSONAL_FIELDS = ("summary",)


@admin.register(Reply)
class ReplyAdmin(admin.ModelAdmin):
    """What residents reported of council's replies. Staff read them (without the summary or
    pasted answer, unless they may see personal data); organizers correct a mistaken answer.
    Replies come only from residents, and go with their letter's data (letters.erasure)."""

    list_display = (
        "recipient",
        "council",
        "campaign",
        "outcome",
        "replied_on",
        "may_publish",
        "created_at",
    )
    list_filter = ("outcome", "may_publish", "delivery__letter__campaign")
    list_select_related = ("delivery__letter__campaign", "delivery__letter__municipality")
    search_fields = ("delivery__recipient_name", "delivery__letter__municipality__name")
    date_hierarchy = "created_at"

    def get_fields(self, request, obj=None):
        fields = ["recipient", "council", "campaign", "outcome", "replied_on"]
        if sees_personal_data(request):
            fields.append("summary")
        return [*fields, "may_publish", "created_at", "updated_at"]

    def get_readonly_fields(self, request, obj=None):
        return ("recipient", "council", "campaign", "created_at", "updated_at")

    def lookup_allowed(self, lookup, value, request=None):
        # ?summary__icontains=... would answer what a search may not.
        parts = lookup.split(LOOKUP_SEP)
        personal = sees_personal_data(request) if request else False
        if parts[0] in REPLY_PERSONAL_FIELDS and not personal:
            return False
        letter_field = parts[2] if parts[:2] == ["delivery", "letter"] and len(parts) > 2 else ""
        if letter_field in TOKEN_FIELDS or (letter_field in PERSONAL_FIELDS and not personal):
            return False
        return super().lookup_allowed(lookup, value, request)

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description=_("recipient"), ordering="delivery__recipient_name")
    def recipient(self, obj):
        return obj.delivery.recipient_label

    @admin.display(description=_("council"), ordering="delivery__letter__municipality__name")
    def council(self, obj):
        return obj.delivery.letter.municipality.name

    @admin.display(description=_("campaign"), ordering="delivery__letter__campaign")
    def campaign(self, obj):
        return obj.delivery.letter.campaign.slug
