from django.contrib import admin
from django.utils.text import Truncator
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from . import admin_preview, admin_reports, services
from .delivery import deliveries_resend, delivery_health_counts
from .models import BlockedSender, Delivery, Letter, OutboxMessage, SignerExportLog


class DeliveryInline(admin.TabularInline):
    model = Delivery
    extra = 0
    fields = (
        "recipient_name",
        "recipient_email",
        "status",
        "attempts",
        "sent_at",
        "delivered_at",
        "message_id",
        "last_error",
    )
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Letter)
class LetterAdmin(admin.ModelAdmin):
    list_display = ("created_at", "campaign", "municipality", "status", "language", "is_test")
    list_filter = ("campaign", "status", "language", "is_test", "municipality__province")
    search_fields = ("email", "last_name", "postal_code", "municipality__name")
    date_hierarchy = "created_at"
    list_select_related = ("campaign", "municipality")
    inlines = [DeliveryInline]
    raw_id_fields = ("municipality", "ward")
    actions = ["block_senders", "resend_failed_deliveries"]

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
        _report_resend(self, request, deliveries_resend(deliveries=deliveries))

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
        "attempts",
        "sent_at",
        "updated_at",
        "short_error",
    )
    list_filter = ("status", "letter__campaign", "letter__is_test")
    search_fields = ("recipient_name", "recipient_email", "esp_message_id", "message_id")
    list_select_related = ("letter__campaign",)
    date_hierarchy = "updated_at"
    raw_id_fields = ("letter", "representative")
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
        _report_resend(self, request, deliveries_resend(deliveries=queryset))

    def changelist_view(self, request, extra_context=None):
        statuses = Delivery.Status.choices
        health = [
            {**row, "cells": [row["counts"].get(value, 0) for value, _label in statuses]}
            for row in delivery_health_counts()
        ]
        extra_context = {**(extra_context or {}), "health": health, "health_statuses": statuses}
        return super().changelist_view(request, extra_context=extra_context)


@admin.register(OutboxMessage)
class OutboxMessageAdmin(admin.ModelAdmin):
    """Mail kept on this machine by the embedded default (nothing was sent anywhere)."""

    list_display = ("created_at", "subject", "to", "from_email")
    search_fields = ("subject", "to", "message_id")
    date_hierarchy = "created_at"
    readonly_fields = (
        "created_at",
        "message_id",
        "from_email",
        "to",
        "reply_to",
        "subject",
        "body",
        "html",
        "raw",
    )

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


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
