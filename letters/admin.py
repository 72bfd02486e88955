from django.contrib import admin
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from . import admin_preview, admin_reports, services
from .models import BlockedSender, Delivery, Letter, SignerExportLog


class DeliveryInline(admin.TabularInline):
    model = Delivery
    extra = 0
    fields = ("recipient_name", "recipient_email", "status", "attempts", "sent_at", "last_error")
    readonly_fields = fields
    can_delete = False


@admin.register(Letter)
class LetterAdmin(admin.ModelAdmin):
    list_display = ("created_at", "campaign", "municipality", "status", "language", "is_test")
    list_filter = ("campaign", "status", "language", "is_test", "municipality__province")
    search_fields = ("email", "last_name", "postal_code", "municipality__name")
    date_hierarchy = "created_at"
    list_select_related = ("campaign", "municipality")
    inlines = [DeliveryInline]
    raw_id_fields = ("municipality", "ward")
    actions = ["block_senders"]

    def get_urls(self):
        return admin_preview.get_urls(self.admin_site) + super().get_urls()

    @admin.action(description=_("Block the email addresses of the selected letters"))
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


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin):
    list_display = ("recipient_name", "recipient_email", "status", "attempts", "sent_at")
    list_filter = ("status", "letter__campaign")
    search_fields = ("recipient_name", "recipient_email", "esp_message_id")
    raw_id_fields = ("letter", "representative")


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
