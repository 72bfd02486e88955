from datetime import timedelta

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, Q
from django.shortcuts import get_object_or_404, redirect
from django.template.defaultfilters import filesizeformat
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.text import format_lazy
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET, require_POST

from .models import (
    ContactReport,
    DirectoryImport,
    Municipality,
    PostcodeAnswer,
    PostcodePrefix,
    Representative,
    Ward,
    search_key,
)
from .roster_plan import RosterPlan, message, plan_preview
from .services import (
    ImportDecided,
    contact_reports_dismiss,
    contact_reports_resolve,
    directory_import_apply,
    directory_import_cancel,
    directory_upload_import,
    municipalities_mark_checked,
    representatives_reset_bounces,
)
from .sources import CheckedUpload, SourceError, upload_check


def _stale_days() -> int:
    return settings.DIRECTORY_STALE_DAYS


class AccentInsensitiveSearchMixin:
    """Search the accent-free search_name column with an accent-free term, plus the normal
    search fields: "montreal" finds Montréal, "theriault" finds Thériault."""

    def get_search_results(self, request, queryset, search_term):
        key = search_key(search_term)
        if not key:
            return super().get_search_results(request, queryset, search_term)
        term = search_term.strip()
        condition = Q(**{self.accent_free_field + "__contains": key})
        for field in self.search_fields:
            condition |= Q(**{field + "__icontains": term})
        spans_relations = any("__" in f for f in (self.accent_free_field, *self.search_fields))
        return queryset.filter(condition), spans_relations


class StaleFilter(admin.SimpleListFilter):
    title = _("verification")
    parameter_name = "stale"

    def lookups(self, request, model_admin):
        return [
            ("yes", _("Stale (not verified in %(days)s days)") % {"days": _stale_days()}),
            ("no", _("Verified in the last %(days)s days") % {"days": _stale_days()}),
        ]

    def queryset(self, request, queryset):
        cutoff = timezone.now() - timedelta(days=_stale_days())
        if self.value() == "yes":
            return queryset.filter(Q(last_verified__isnull=True) | Q(last_verified__lt=cutoff))
        if self.value() == "no":
            return queryset.filter(last_verified__gte=cutoff)
        return queryset


class EmailFilter(admin.SimpleListFilter):
    title = _("email")
    parameter_name = "email_state"

    def lookups(self, request, model_admin):
        return [
            ("missing", _("Missing email")),
            ("bouncing", _("Bouncing address")),
            ("ok", _("Has a working email")),
        ]

    def queryset(self, request, queryset):
        limit = Representative.BOUNCE_LIMIT
        if self.value() == "missing":
            return queryset.filter(email="")
        if self.value() == "bouncing":
            return queryset.filter(bounce_count__gte=limit)
        if self.value() == "ok":
            return queryset.exclude(email="").filter(bounce_count__lt=limit)
        return queryset


class MunicipalityEmailFilter(admin.SimpleListFilter):
    title = _("representatives' email")
    parameter_name = "missing_email"

    def lookups(self, request, model_admin):
        return [
            ("yes", _("Someone has no email")),
            ("none", _("No representatives")),
        ]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(
                representatives__active=True, representatives__email=""
            ).distinct()
        if self.value() == "none":
            return queryset.filter(rep_count=0)
        return queryset


class MunicipalityStaleFilter(admin.SimpleListFilter):
    """Councils by when their contacts were last checked (imported, synced or by hand)."""

    title = _("contacts checked")
    parameter_name = "stale"

    def lookups(self, request, model_admin):
        return [
            ("yes", _("More than %(days)s days ago") % {"days": _stale_days()}),
            ("no", _("In the last %(days)s days") % {"days": _stale_days()}),
            ("never", _("Never")),
        ]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.roster_stale(days=_stale_days())
        if self.value() == "no":
            cutoff = timezone.now() - timedelta(days=_stale_days())
            return queryset.filter(roster_checked_at__gte=cutoff)
        if self.value() == "never":
            return queryset.filter(roster_checked_at__isnull=True)
        return queryset


class ElectionFilter(admin.SimpleListFilter):
    """Councils elected since their contacts were last checked: the roster may name people
    who lost their seats."""

    title = _("election")
    parameter_name = "election"

    def lookups(self, request, model_admin):
        return [("since_check", _("Election since the contacts were checked"))]

    def queryset(self, request, queryset):
        if self.value() == "since_check":
            return queryset.election_since_check()
        return queryset


class WardInline(admin.TabularInline):
    model = Ward
    extra = 0
    fields = ("name", "number", "kind", "ocd_id", "valid_from", "valid_through")
    show_change_link = True


@admin.register(Municipality)
class MunicipalityAdmin(AccentInsensitiveSearchMixin, admin.ModelAdmin):
    accent_free_field = "search_name"
    list_display = (
        "name",
        "province",
        "classification",
        "organization_name",
        "rep_count",
        "roster_checked_at",
        "election_date",
        "active",
        "ocd_id",
    )
    list_filter = (
        "province",
        "active",
        "classification",
        MunicipalityEmailFilter,
        MunicipalityStaleFilter,
        ElectionFilter,
    )
    actions = ["mark_checked"]
    search_fields = ("name", "name_fr", "organization_name", "ocd_id", "csd_code")
    list_select_related = ("upper_tier",)
    autocomplete_fields = ("upper_tier",)
    readonly_fields = ("search_name", "mail_blocked_at", "mail_block_reason")
    inlines = [WardInline]
    fieldsets = (
        (None, {"fields": ("name", "name_fr", "organization_name", "province", "active")}),
        (
            _("Identifiers"),
            {"fields": ("ocd_id", "csd_code", "classification", "represent_set", "upper_tier")},
        ),
        (_("Council"), {"fields": ("website", "council_size", "election_date", "clerk_email")}),
        (_("Contacts"), {"fields": ("roster_checked_at", "roster_source")}),
        (
            _("Mail"),
            {
                "fields": ("mail_blocked_at", "mail_block_reason"),
                "description": _(
                    "Set when this council's mail server refused our mail as a policy block: "
                    "its letters wait. Resume them from Letters › Council delivery."
                ),
            },
        ),
    )

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(rep_count=Count("representatives", filter=Q(representatives__active=True)))
        )

    @admin.display(description=_("representatives"), ordering="rep_count")
    def rep_count(self, obj):
        return obj.rep_count

    @admin.action(description=_("Mark contacts as checked today"), permissions=["change"])
    def mark_checked(self, request, queryset):
        count = municipalities_mark_checked(municipalities=queryset, by=request.user)
        self.message_user(
            request,
            ngettext(
                "The contacts of %(count)d municipality are marked as checked today.",
                "The contacts of %(count)d municipalities are marked as checked today.",
                count,
            )
            % {"count": count},
        )


@admin.register(Ward)
class WardAdmin(AccentInsensitiveSearchMixin, admin.ModelAdmin):
    accent_free_field = "municipality__search_name"
    list_display = (
        "name",
        "number",
        "kind",
        "municipality",
        "valid_from",
        "valid_through",
        "current",
    )
    list_filter = ("kind", "municipality__province")
    search_fields = ("name", "number", "ocd_id", "municipality__name")
    list_select_related = ("municipality",)
    autocomplete_fields = ("municipality",)

    @admin.display(description=_("current"), boolean=True)
    def current(self, obj):
        return obj.is_current()


class RepresentativeUploadForm(forms.Form):
    file = forms.FileField(
        label=_("File"),
        help_text=_(
            "Open North CSV (English or French headers; comma or semicolon; UTF-8 or "
            "Windows-1252) or Represent JSON."
        ),
    )
    municipality = forms.ModelChoiceField(
        label=_("Municipality"),
        queryset=Municipality.objects.active().order_by("name", "province"),
        required=False,
        help_text=_(
            "Every row belongs to this municipality. Leave empty when the file has a "
            "Locality (and Province) column or OCD ids."
        ),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        field = self.fields["file"]
        field.help_text = format_lazy(
            "{} {}",
            field.help_text,
            gettext("At most %(size)s.")
            % {"size": filesizeformat(settings.DIRECTORY_UPLOAD_MAX_BYTES)},
        )

    def clean_file(self) -> CheckedUpload:
        """The upload, checked and counted: too large, unreadable or not a representatives
        file is a message on the field, and nothing is imported."""
        upload = self.cleaned_data["file"]
        limit = settings.DIRECTORY_UPLOAD_MAX_BYTES
        # The size is known before anything is read; reading one byte past the limit covers
        # an upload whose size was not.
        data = b"" if upload.size > limit else upload.read(limit + 1)
        if upload.size > limit or len(data) > limit:
            raise ValidationError(
                gettext(
                    "This file is %(size)s; the limit is %(limit)s. Split it into smaller "
                    "files, by province for example."
                ),
                code="too_large",
                params={
                    "size": filesizeformat(max(upload.size, len(data))),
                    "limit": filesizeformat(limit),
                },
            )
        try:
            checked = upload_check(name=upload.name, data=data)
        except SourceError as exc:
            raise ValidationError(str(exc), code="unreadable") from exc
        max_rows = settings.DIRECTORY_UPLOAD_MAX_ROWS
        if checked.records > max_rows:
            raise ValidationError(
                gettext(
                    "This file has %(rows)s rows; at most %(limit)s can be imported at once. "
                    "Split it into smaller files, by province for example."
                ),
                code="too_many_rows",
                params={"rows": checked.records, "limit": max_rows},
            )
        return checked


@admin.register(Representative)
class RepresentativeAdmin(AccentInsensitiveSearchMixin, admin.ModelAdmin):
    accent_free_field = "search_name"
    change_list_template = "councils/admin/representative_changelist.html"
    list_display = (
        "name",
        "role",
        "municipality",
        "ward",
        "email",
        "emailable",
        "phone",
        "last_verified",
        "active",
    )
    actions = ["reset_bounces"]
    list_filter = (
        "active",
        "role",
        "source",
        EmailFilter,
        StaleFilter,
        "municipality__province",
    )
    search_fields = ("name", "email", "municipality__name", "ward__name")
    list_select_related = ("municipality", "ward")
    autocomplete_fields = ("municipality", "ward")
    readonly_fields = ("search_name",)
    fieldsets = (
        (None, {"fields": ("municipality", "ward", "role", "role_text", "active")}),
        (_("Person"), {"fields": ("name", "first_name", "last_name", "photo_url")}),
        (
            _("Contact"),
            {"fields": ("email", "email_kind", "bounce_count", "phone", "contact_url", "offices")},
        ),
        (_("Source"), {"fields": ("source", "source_url", "last_verified")}),
    )

    @admin.display(description=_("emailable"), boolean=True)
    def emailable(self, obj):
        return obj.can_email

    @admin.action(
        description=_("Reset the bounce count (the address was checked)"),
        permissions=["change"],
    )
    def reset_bounces(self, request, queryset):
        count = representatives_reset_bounces(representatives=queryset)
        self.message_user(
            request, _("Bounce count reset for %(count)d representatives.") % {"count": count}
        )

    def get_urls(self):
        return [
            path(
                "upload/",
                self.admin_site.admin_view(self.upload_view),
                name="councils_representative_upload",
            ),
            path(
                "upload/<int:job_id>/",
                self.admin_site.admin_view(require_GET(self.upload_job_view)),
                name="councils_representative_upload_job",
            ),
            path(
                "upload/<int:job_id>/apply/",
                self.admin_site.admin_view(require_POST(self.upload_apply_view)),
                name="councils_representative_upload_apply",
            ),
            path(
                "upload/<int:job_id>/cancel/",
                self.admin_site.admin_view(require_POST(self.upload_cancel_view)),
                name="councils_representative_upload_cancel",
            ),
        ] + super().get_urls()

    def _may_import(self, request) -> bool:
        return self.has_add_permission(request) and self.has_change_permission(request)

    def upload_view(self, request):
        """Upload a file; its changes are shown for review before anything is written."""
        if not self._may_import(request):
            raise PermissionDenied
        form = RepresentativeUploadForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            try:
                job = directory_upload_import(
                    upload=form.cleaned_data["file"],
                    municipality=form.cleaned_data["municipality"],
                    uploaded_by=request.user,
                )
            except SourceError as exc:
                form.add_error("file", str(exc))
            else:
                return redirect("admin:councils_representative_upload_job", job_id=job.pk)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": _("Import representatives"),
            "form": form,
            "changelist_url": reverse("admin:councils_representative_changelist"),
        }
        return TemplateResponse(request, "councils/admin/representative_upload.html", context)

    def upload_job_view(self, request, job_id: int):
        """An import's page: the progress of a large file being read (it reloads itself),
        then the changes to review with Apply and Cancel, then what was decided."""
        if not self._may_import(request):
            raise PermissionDenied
        job = get_object_or_404(
            DirectoryImport.objects.defer("text").select_related(
                "municipality", "uploaded_by", "decided_by"
            ),
            pk=job_id,
        )
        if job.source == DirectoryImport.Source.REPRESENT:
            title = _("Represent sync of %(name)s") % {"name": job.municipality or job.file_name}
        else:
            title = _("Import of %(name)s") % {"name": job.file_name}
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": title,
            "job": job,
            "preview": plan_preview(RosterPlan.from_json(job.plan)) if job.plan else None,
            "reasons": [message(code, params) for code, params in job.review_reasons],
            "changelist_url": reverse("admin:councils_representative_changelist"),
        }
        return TemplateResponse(request, "councils/admin/directory_import.html", context)

    def upload_apply_view(self, request, job_id: int):
        if not self._may_import(request):
            raise PermissionDenied
        job = get_object_or_404(DirectoryImport.objects.defer("text"), pk=job_id)
        try:
            job = directory_import_apply(job=job, by=request.user)
        except ImportDecided:
            self.message_user(
                request, gettext("This import was already decided."), messages.WARNING
            )
        else:
            if job.status == DirectoryImport.Status.DONE:
                self.message_user(request, gettext("The changes were applied."), messages.SUCCESS)
            elif job.status == DirectoryImport.Status.OUTDATED:
                self.message_user(
                    request,
                    gettext("Nothing was changed: the contacts changed after this preview."),
                    messages.ERROR,
                )
        return redirect("admin:councils_representative_upload_job", job_id=job.pk)

    def upload_cancel_view(self, request, job_id: int):
        if not self._may_import(request):
            raise PermissionDenied
        job = get_object_or_404(DirectoryImport.objects.defer("text"), pk=job_id)
        try:
            directory_import_cancel(job=job, by=request.user)
        except ImportDecided:
            self.message_user(
                request, gettext("This import was already decided."), messages.WARNING
            )
        else:
            self.message_user(request, gettext("The import was cancelled: nothing was changed."))
        return redirect("admin:councils_representative_upload_job", job_id=job.pk)


@admin.register(DirectoryImport)
class DirectoryImportAdmin(admin.ModelAdmin):
    """Every roster import, waiting for review or decided: uploads, and changes the Represent
    sync found. Reviewed on their own page; the records themselves are read-only."""

    list_display = (
        "file_name",
        "source",
        "status",
        "progress",
        "municipality",
        "changes",
        "uploaded_by",
        "created_at",
        "decided_by",
    )
    list_filter = ("status", "source", "created_at")
    search_fields = ("file_name", "municipality__name", "uploaded_by__username", "message")
    list_select_related = ("municipality", "uploaded_by", "decided_by")
    exclude = ("text", "plan", "review_reasons")

    def get_queryset(self, request):
        # The file and the plan (up to DIRECTORY_UPLOAD_MAX_BYTES and more) are read on the
        # import's own page only.
        return super().get_queryset(request).defer("text", "plan")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        # The task of a job being read or applied still reads and writes its row.
        if obj is not None and obj.is_busy:
            return False
        return super().has_delete_permission(request, obj)

    @admin.display(description=_("progress"))
    def progress(self, obj):
        if obj.status == DirectoryImport.Status.REVIEW:
            text = gettext("Review the changes")
        else:
            text = gettext("%(done)s of %(total)s rows") % {
                "done": obj.rows_done,
                "total": obj.rows_total,
            }
        return format_html(
            '<a href="{}">{}</a>',
            reverse("admin:councils_representative_upload_job", args=[obj.pk]),
            text,
        )

    @admin.display(description=_("changes"))
    def changes(self, obj):
        return gettext("%(new)s new, %(changed)s changed, %(retired)s retired") % {
            "new": obj.created,
            "changed": obj.updated,
            "retired": obj.deactivated,
        }


@admin.register(ContactReport)
class ContactReportAdmin(admin.ModelAdmin):
    """Residents' "Wrong or outdated contact?" reports: retire the person or correct the
    contact (its change form), then close the report."""

    list_display = (
        "created_at",
        "representative",
        "municipality",
        "problem",
        "details",
        "status",
        "correct_link",
    )
    list_filter = ("status", "problem", "representative__municipality__province")
    search_fields = ("representative__name", "representative__municipality__name", "details")
    list_select_related = ("representative__municipality",)
    readonly_fields = (
        "representative",
        "problem",
        "details",
        "created_at",
        "status",
        "resolved_at",
        "resolved_by",
    )
    actions = ["retire", "resolve", "dismiss"]

    def has_add_permission(self, request):
        return False

    @admin.display(description=_("municipality"), ordering="representative__municipality")
    def municipality(self, obj):
        return obj.representative.municipality

    @admin.display(description=_("correct"))
    def correct_link(self, obj):
        return format_html(
            '<a href="{}">{}</a>',
            reverse("admin:councils_representative_change", args=[obj.representative_id]),
            gettext("Correct the contact"),
        )

    @admin.action(
        description=_("Retire these representatives (they left office) and close the reports"),
        permissions=["change"],
    )
    def retire(self, request, queryset):
        if not request.user.has_perm("councils.change_representative"):
            raise PermissionDenied
        count = contact_reports_resolve(reports=queryset, by=request.user, retire=True)
        self.message_user(
            request,
            ngettext(
                "%(count)d report closed; its representative is retired.",
                "%(count)d reports closed; their representatives are retired.",
                count,
            )
            % {"count": count},
        )

    @admin.action(description=_("Close the reports as resolved"), permissions=["change"])
    def resolve(self, request, queryset):
        count = contact_reports_resolve(reports=queryset, by=request.user)
        self.message_user(
            request,
            ngettext(
                "%(count)d report closed as resolved.",
                "%(count)d reports closed as resolved.",
                count,
            )
            % {"count": count},
        )

    @admin.action(
        description=_("Dismiss the reports (the contact was right)"), permissions=["change"]
    )
    def dismiss(self, request, queryset):
        count = contact_reports_dismiss(reports=queryset, by=request.user)
        self.message_user(
            request,
            ngettext("%(count)d report dismissed.", "%(count)d reports dismissed.", count)
            % {"count": count},
        )


@admin.register(PostcodePrefix)
class PostcodePrefixAdmin(admin.ModelAdmin):
    list_display = ("fsa", "municipality", "ward")
    list_filter = ("municipality__province",)
    search_fields = ("fsa", "municipality__name")
    list_select_related = ("municipality", "ward")
    autocomplete_fields = ("municipality", "ward")


@admin.register(PostcodeAnswer)
class PostcodeAnswerAdmin(admin.ModelAdmin):
    list_display = ("postal_code", "province", "fetched_at")
    list_filter = ("province",)
    search_fields = ("postal_code",)
    readonly_fields = ("postal_code", "candidates", "province", "fetched_at")

    def has_add_permission(self, request):
        return False
