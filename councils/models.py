import unicodedata
from datetime import timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from localflavor.ca.models import CAProvinceField


class Role(models.TextChoices):
    """Offices a representative can hold; campaigns pick their target roles from these."""

    MAYOR = "mayor", _("Mayor")
    DEPUTY_MAYOR = "deputy_mayor", _("Deputy mayor")
    COUNCILLOR = "councillor", _("Councillor")
    REGIONAL_COUNCILLOR = "regional_councillor", _("Regional councillor")
    BOROUGH_MAYOR = "borough_mayor", _("Borough mayor")
    OTHER = "other", _("Other")


def search_key(value: str) -> str:
    """Lower-case ASCII form of a name for accent-insensitive matching: "Montréal" -> "montreal"."""
    decomposed = unicodedata.normalize("NFKD", value or "")
    ascii_only = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(ascii_only.casefold().split())


class MunicipalityQuerySet(models.QuerySet):
    def active(self):
        return self.filter(active=True)


# Each province's and territory's time zone (the municipality's office hours follow it).
PROVINCE_TIME_ZONES = {
    "BC": "America/Vancouver",
    "AB": "America/Edmonton",
    "SK": "America/Regina",
    "MB": "America/Winnipeg",
    "ON": "America/Toronto",
    "QC": "America/Toronto",
    "NB": "America/Moncton",
    "NS": "America/Halifax",
    "PE": "America/Halifax",
    "NL": "America/St_Johns",
    "YT": "America/Whitehorse",
    "NT": "America/Yellowknife",
    "NU": "America/Iqaluit",
}


class Municipality(models.Model):
    ocd_id = models.CharField(_("OCD division id"), max_length=200, unique=True)
    csd_code = models.CharField(
        _("census subdivision code"), max_length=7, blank=True, db_index=True
    )
    name = models.CharField(_("name"), max_length=200)
    name_fr = models.CharField(_("French name"), max_length=200, blank=True)
    province = CAProvinceField(_("province"))
    classification = models.CharField(_("classification"), max_length=10, blank=True)
    organization_name = models.CharField(_("organization name"), max_length=200, blank=True)
    upper_tier = models.ForeignKey(
        "self",
        verbose_name=_("upper tier"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="lower_tiers",
    )
    website = models.URLField(_("website"), blank=True)
    # The roster (its representatives): when someone last checked it against its source, and
    # that source (an import file, a Represent set, a person).
    roster_checked_at = models.DateTimeField(_("contacts checked on"), null=True, blank=True)
    roster_source = models.CharField(_("contacts source"), max_length=500, blank=True)
    # The next (or last) general election: a roster checked before an election that has since
    # taken place may name people who lost their seats.
    election_date = models.DateField(_("election date"), null=True, blank=True)
    # Where formal correspondence for a council meeting goes (letters to the clerk).
    clerk_email = models.EmailField(
        _("clerk's email"),
        blank=True,
        help_text=_("Correspondence for council meetings, filed in the public record."),
    )
    # Set when this council's mail server refused our mail as a policy block: sending to it
    # pauses until an organizer resumes it.
    mail_blocked_at = models.DateTimeField(_("mail blocked since"), null=True, blank=True)
    mail_block_reason = models.TextField(_("mail block reason"), blank=True)
    council_size = models.PositiveSmallIntegerField(_("council size"), null=True, blank=True)
    represent_set = models.SlugField(_("Represent set slug"), max_length=200, blank=True)
    active = models.BooleanField(
        _("active"),
        default=True,
        help_text=_("Inactive entries (reserves, unorganized areas) are not offered to residents."),
    )
    # Accent-free, lower-case EN and FR names, kept up to date by save() and the importers.
    search_name = models.CharField(_("search name"), max_length=400, blank=True, editable=False)

    objects = MunicipalityQuerySet.as_manager()

    class Meta:
        verbose_name = _("municipality")
        verbose_name_plural = _("municipalities")
        ordering = ["name", "province"]
        indexes = [models.Index(fields=["province", "name"])]

    def __str__(self):
        return f"{self.name} ({self.province})"

    def save(self, *args, **kwargs):
        self.search_name = self.build_search_name()
        super().save(*args, **kwargs)

    def build_search_name(self) -> str:
        names = [search_key(self.name)]
        if self.name_fr and search_key(self.name_fr) != names[0]:
            names.append(search_key(self.name_fr))
        return " | ".join(names)

    @property
    def time_zone(self) -> str:
        """The municipality's time zone, from its province (Canada has six; the few places
        that keep another province's time are not told apart)."""
        return PROVINCE_TIME_ZONES.get(self.province, "America/Toronto")

    def display_name(self, language: str = "en") -> str:
        if language == "fr" and self.name_fr:
            return self.name_fr
        return self.name


class Ward(models.Model):
    ocd_id = models.CharField(_("OCD division id"), max_length=250, unique=True)
    municipality = models.ForeignKey(
        Municipality, verbose_name=_("municipality"), on_delete=models.CASCADE, related_name="wards"
    )
    name = models.CharField(_("name"), max_length=200)
    number = models.CharField(_("number"), max_length=20, blank=True)
    # As the OCD id names it: ward, district, borough, quartier, division.
    kind = models.CharField(_("kind"), max_length=20, blank=True)
    valid_from = models.DateField(_("valid from"), null=True, blank=True)
    valid_through = models.DateField(_("valid through"), null=True, blank=True)

    class Meta:
        verbose_name = _("ward")
        verbose_name_plural = _("wards")
        ordering = ["municipality", "name"]

    def __str__(self):
        return f"{self.name} ({self.municipality.name})"

    def is_current(self, on=None) -> bool:
        on = on or timezone.localdate()
        if self.valid_from and self.valid_from > on:
            return False
        return not (self.valid_through and self.valid_through < on)


class RepresentativeQuerySet(models.QuerySet):
    def active(self):
        return self.filter(active=True)

    def stale(self, days: int = 365):
        cutoff = timezone.now() - timedelta(days=days)
        return self.filter(
            models.Q(last_verified__isnull=True) | models.Q(last_verified__lt=cutoff)
        )

    def bounce_recorded(self) -> int:
        """Count a hard bounce (a permanent refusal by SMTP, or an ESP's bounce event)
        against these addresses; BOUNCE_LIMIT of them flag an address."""
        return self.update(bounce_count=models.F("bounce_count") + 1)

    def delivery_recorded(self) -> int:
        """A letter arrived: bounces count only while in a row. A flagged address stays
        flagged until someone corrects it in the directory."""
        return self.filter(bounce_count__lt=Representative.BOUNCE_LIMIT).update(bounce_count=0)


class Representative(models.Model):
    # Hard bounces after which the address is treated as not working (shown, but not emailed).
    BOUNCE_LIMIT = 3

    class EmailKind(models.TextChoices):
        PERSONAL = "personal", _("Personal")
        OFFICE = "office", _("Office")
        GENERIC = "generic", _("Generic")

    class Source(models.TextChoices):
        REPRESENT = "represent", _("Represent")
        CSV = "csv", _("CSV")
        MANUAL = "manual", _("Manual")

    municipality = models.ForeignKey(
        Municipality,
        verbose_name=_("municipality"),
        on_delete=models.CASCADE,
        related_name="representatives",
    )
    ward = models.ForeignKey(
        Ward,
        verbose_name=_("ward"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="representatives",
    )
    role = models.CharField(_("role"), max_length=30, choices=Role.choices, default=Role.COUNCILLOR)
    role_text = models.CharField(_("role as published"), max_length=200, blank=True)
    name = models.CharField(_("name"), max_length=200)
    first_name = models.CharField(_("first name"), max_length=100, blank=True)
    last_name = models.CharField(_("last name"), max_length=100, blank=True)
    email = models.EmailField(_("email"), blank=True)
    email_kind = models.CharField(
        _("email kind"), max_length=10, choices=EmailKind.choices, blank=True
    )
    contact_url = models.URLField(_("contact form URL"), max_length=500, blank=True)
    phone = models.CharField(_("phone"), max_length=50, blank=True)
    offices = models.JSONField(_("offices"), default=list, blank=True)
    photo_url = models.URLField(_("photo URL"), max_length=500, blank=True)
    source = models.CharField(
        _("source"), max_length=10, choices=Source.choices, default=Source.MANUAL
    )
    source_url = models.URLField(_("source URL"), max_length=500, blank=True)
    last_verified = models.DateTimeField(_("last verified"), null=True, blank=True)
    active = models.BooleanField(_("active"), default=True)
    bounce_count = models.PositiveSmallIntegerField(_("hard bounces"), default=0)
    search_name = models.CharField(_("search name"), max_length=200, blank=True, editable=False)

    objects = RepresentativeQuerySet.as_manager()

    class Meta:
        verbose_name = _("representative")
        verbose_name_plural = _("representatives")
        ordering = ["municipality", "role", "last_name", "name"]
        indexes = [models.Index(fields=["municipality", "active", "role"])]

    def __str__(self):
        return f"{self.name}, {self.get_role_display()} ({self.municipality.name})"

    def save(self, *args, **kwargs):
        self.search_name = search_key(self.name)
        super().save(*args, **kwargs)

    @property
    def email_flagged(self) -> bool:
        """The address bounced too often: show the phone or contact form instead."""
        return self.bounce_count >= self.BOUNCE_LIMIT

    @property
    def can_email(self) -> bool:
        return bool(self.email) and not self.email_flagged

    @property
    def title(self) -> str:
        """The role as the source published it ("Deputy Mayor"), else the role's name."""
        return self.role_text or str(self.get_role_display())


class PostcodePrefix(models.Model):
    """The organizer-loadable table keyed on a postal code's first three characters (FSA).

    One FSA can span several municipalities: each gets a row, and the resident chooses.
    """

    fsa = models.CharField(_("first three characters"), max_length=3, db_index=True)
    municipality = models.ForeignKey(
        Municipality,
        verbose_name=_("municipality"),
        on_delete=models.CASCADE,
        related_name="postcode_prefixes",
    )
    ward = models.ForeignKey(
        Ward,
        verbose_name=_("ward"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="postcode_prefixes",
    )

    class Meta:
        verbose_name = _("postal code prefix")
        verbose_name_plural = _("postal code prefixes")
        ordering = ["fsa", "municipality__name"]
        constraints = [
            models.UniqueConstraint(fields=["fsa", "municipality"], name="unique_fsa_municipality")
        ]

    def __str__(self):
        return f"{self.fsa} → {self.municipality.name}"


class PostcodeAnswer(models.Model):
    """A remembered answer from Represent for one full postal code (the lookup's local cache)."""

    MAX_AGE = timedelta(days=180)

    postal_code = models.CharField(_("postal code"), max_length=7, unique=True)
    # [{"municipality": OCD id, "ward": OCD id or null}, ...]: natural keys survive re-imports.
    candidates = models.JSONField(_("candidates"), default=list)
    province = CAProvinceField(_("province"), blank=True)
    fetched_at = models.DateTimeField(_("fetched at"), default=timezone.now)

    class Meta:
        verbose_name = _("cached postal code answer")
        verbose_name_plural = _("cached postal code answers")
        ordering = ["postal_code"]

    def __str__(self):
        return self.postal_code

    def is_fresh(self) -> bool:
        return self.fetched_at >= timezone.now() - self.MAX_AGE


class DirectoryImport(models.Model):
    """A representatives file uploaded in the admin and too large to import during the request:
    councils.tasks imports it in batches, and the admin's progress page reads this row."""

    # Skipped rows and notes kept for the result page; a file can have thousands.
    DETAILS_LIMIT = 1000
    _PROGRESS_FIELDS = [
        "rows_done",
        "created",
        "updated",
        "unchanged",
        "deactivated",
        "skipped_count",
        "skipped",
        "notes",
        "updated_at",
    ]

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Running")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")

    file_name = models.CharField(_("file name"), max_length=255)
    municipality = models.ForeignKey(
        Municipality,
        verbose_name=_("municipality"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("uploaded by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.QUEUED
    )
    # The decoded file, in the database rather than on a disk, so a worker on another machine
    # reads it; emptied once the job has finished. Load it only where needed (defer("text")).
    text = models.TextField(_("file contents"), blank=True)
    rows_total = models.PositiveIntegerField(_("rows"), default=0)
    rows_done = models.PositiveIntegerField(_("rows read"), default=0)
    created = models.PositiveIntegerField(_("people created"), default=0)
    updated = models.PositiveIntegerField(_("people updated"), default=0)
    unchanged = models.PositiveIntegerField(_("people unchanged"), default=0)
    deactivated = models.PositiveIntegerField(_("people marked inactive"), default=0)
    skipped_count = models.PositiveIntegerField(_("rows skipped"), default=0)
    skipped = models.JSONField(_("skipped rows and reasons"), default=list, blank=True)
    notes = models.JSONField(_("notes"), default=list, blank=True)
    message = models.TextField(_("error"), blank=True)
    created_at = models.DateTimeField(_("uploaded at"), default=timezone.now)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    updated_at = models.DateTimeField(_("last progress"), auto_now=True)

    class Meta:
        verbose_name = _("directory import")
        verbose_name_plural = _("directory imports")
        ordering = ["-created_at"]

    def __str__(self):
        return self.file_name

    @property
    def is_finished(self) -> bool:
        return self.status in (self.Status.DONE, self.Status.FAILED)

    def percent_done(self) -> int:
        if not self.rows_total:
            return 100 if self.is_finished else 0
        return min(100, self.rows_done * 100 // self.rows_total)

    def mark_running(self) -> None:
        """Start from the first row (again, after a run that was lost with its worker)."""
        self.status = self.Status.RUNNING
        self.started_at = timezone.now()
        self.rows_done = self.created = self.updated = self.unchanged = 0
        self.deactivated = self.skipped_count = 0
        self.skipped, self.notes = [], []
        self.save(update_fields=[*self._PROGRESS_FIELDS, "status", "started_at"])

    def record_progress(self, *, rows: int, summary) -> None:
        """Count a batch of rows as read, with the import's counts so far (an ImportSummary)."""
        self.rows_done += rows
        self._take_counts(summary)
        self.save(update_fields=self._PROGRESS_FIELDS)

    def mark_done(self, *, summary) -> None:
        self.status = self.Status.DONE
        self.rows_done = self.rows_total
        self._take_counts(summary)
        self._finish()

    def mark_failed(self, *, message: str, summary=None) -> None:
        """Record why the job stopped; the counts say what was imported before it did."""
        self.status = self.Status.FAILED
        self.message = message
        if summary is not None:
            self._take_counts(summary)
        self._finish()

    def _finish(self) -> None:
        self.text = ""
        self.finished_at = timezone.now()
        self.save(
            update_fields=[*self._PROGRESS_FIELDS, "status", "message", "text", "finished_at"]
        )

    def _take_counts(self, summary) -> None:
        self.created = summary.created
        self.updated = summary.updated
        self.unchanged = summary.unchanged
        self.deactivated = summary.deactivated
        self.skipped_count = len(summary.skipped)
        self.skipped = [list(item) for item in summary.skipped[: self.DETAILS_LIMIT]]
        self.notes = summary.notes[: self.DETAILS_LIMIT]
