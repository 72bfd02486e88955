import re
import unicodedata
from datetime import date, datetime, time, timedelta
from functools import cache
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import holidays
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


def person_label(name: str, title: str = "") -> str:
    """How a representative is named to residents: "Jane Doe, Councillor". The title is
    left out when the name already says it, as directory placeholders and some sources do
    ("Mayor of Toronto", "Councillor, Ward 10 Spadina-Fort York"), so nothing is said twice."""
    name, title = (name or "").strip(), (title or "").strip()
    if not title:
        return name
    if re.search(r"\b" + re.escape(search_key(title)) + r"\b", search_key(name)):
        return name
    return f"{name}, {title}" if name else title


class MunicipalityQuerySet(models.QuerySet):
    def active(self):
        return self.filter(active=True)

    def roster_stale(self, *, days: int):
        """Rosters last checked more than `days` days ago (a roster never checked is not
        stale but unknown: roster_checked_at is empty)."""
        return self.filter(roster_checked_at__lt=timezone.now() - timedelta(days=days))

    def election_since_check(self, *, today=None):
        """Councils whose election has taken place since their roster was last checked (or
        that were never checked): the roster may name people who lost their seats."""
        today = today or timezone.localdate()
        return self.filter(election_date__lte=today).filter(
            models.Q(roster_checked_at__isnull=True)
            | models.Q(roster_checked_at__date__lt=models.F("election_date"))
        )


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

# What residents call those zones ("8:00 to 18:00, Atlantic time").
TIME_ZONE_NAMES = {
    "America/Vancouver": _("Pacific time"),
    "America/Edmonton": _("Mountain time"),
    "America/Yellowknife": _("Mountain time"),
    "America/Regina": _("Saskatchewan time"),
    "America/Winnipeg": _("Central time"),
    "America/Toronto": _("Eastern time"),
    "America/Iqaluit": _("Eastern time"),
    "America/Moncton": _("Atlantic time"),
    "America/Halifax": _("Atlantic time"),
    "America/St_Johns": _("Newfoundland time"),
    "America/Whitehorse": _("Yukon time"),
}


# Office hours: Monday to Friday, 8:00 to 18:00 local time, except the province's public holidays.
OFFICE_OPENS = time(8, 0)
OFFICE_CLOSES = time(18, 0)
OFFICE_DAYS = range(5)


@cache
def public_holidays(province: str) -> holidays.HolidayBase:
    """The public holidays of a province or territory, every year (python-holidays fills in a
    year when a date of it is asked for). One per province per process: building one costs
    about a millisecond, and each letter to a council in office hours asks."""
    return holidays.country_holidays("CA", subdiv=province or None)


def time_zone_name(zone: str) -> str:
    """A Canadian time zone as residents name it; any other zone by its identifier."""
    return str(TIME_ZONE_NAMES.get(zone, zone))


# What Statistics Canada's classification codes mean, for residents: the census subdivision
# types that have a council, and (below) the census division types of upper tiers. Names in
# the picker are told apart by them ("Morris (rural municipality)", "Morris (town)").
SUBDIVISION_KINDS = {
    "C": _("city"),
    "CC": _("chartered community"),
    "CG": _("community government"),
    "CN": _("crown colony"),
    "COM": _("community"),
    "CT": _("township"),
    "CU": _("united townships"),
    "CV": _("city"),
    "CY": _("city"),
    "DM": _("district municipality"),
    "HAM": _("hamlet"),
    "ID": _("improvement district"),
    "IM": _("island municipality"),
    "LGD": _("local government district"),
    "M": _("municipality"),
    "MD": _("municipal district"),
    "MÉ": _("municipality"),
    "MU": _("municipality"),
    "NH": _("northern hamlet"),
    "NV": _("northern village"),
    "PE": _("parish"),
    "RCR": _("rural community"),
    "RGM": _("regional municipality"),
    "RM": _("rural municipality"),
    "RV": _("resort village"),
    "SM": _("specialized municipality"),
    "SV": _("summer village"),
    "T": _("town"),
    "TP": _("township"),
    "TV": _("town"),
    "V": _("city or town"),
    "VL": _("village"),
    "VN": _("northern village"),
}
DIVISION_KINDS = {
    "CTY": _("county"),
    "DM": _("district municipality"),
    "MRC": _("regional county municipality"),
    "RD": _("regional district"),
    "RM": _("regional municipality"),
    "UC": _("united counties"),
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

    def office_hours_from(self, moment: datetime) -> datetime:
        """The first moment at or after this one when the council's offices are open: Monday
        to Friday, 8:00 to 18:00 in its time zone, except its province's public holidays
        (Canada Day, Christmas, la Fête nationale in Québec...)."""
        zone = ZoneInfo(self.time_zone)
        local = moment.astimezone(zone)
        for _day in range(15):  # a weekend and the holidays beside it, at most
            if self.office_day(local.date()):
                opens = datetime.combine(local.date(), OFFICE_OPENS, tzinfo=zone)
                closes = datetime.combine(local.date(), OFFICE_CLOSES, tzinfo=zone)
                if local < opens:
                    return opens
                if local < closes:
                    return local
            local = datetime.combine(local.date() + timedelta(days=1), time(0, 0), tzinfo=zone)
        raise AssertionError("offices open within a fortnight")

    def office_day(self, day: date) -> bool:
        """Whether the council's offices open on this day: a weekday that is not a public
        holiday in its province."""
        return day.weekday() in OFFICE_DAYS and day not in public_holidays(self.province)

    def local_date(self, moment: datetime) -> date:
        """The date at this moment where the municipality is."""
        return moment.astimezone(ZoneInfo(self.time_zone)).date()

    @property
    def time_zone_name(self) -> str:
        """Its time zone as residents name it: "Atlantic time"."""
        return time_zone_name(self.time_zone)

    @property
    def is_census_division(self) -> bool:
        """An upper tier (Peel Region, a county) or a Nova Scotia county municipality, named
        by its census division rather than a census subdivision."""
        return "/cd:" in self.ocd_id

    @property
    def kind(self) -> str:
        """What kind of municipality this is ("city", "regional municipality"), from its
        classification; "" when the code is not one of a council."""
        kinds = DIVISION_KINDS if self.is_census_division else SUBDIVISION_KINDS
        return str(kinds.get(self.classification, ""))

    def display_name(self, language: str = "en") -> str:
        if language == "fr" and self.name_fr:
            return self.name_fr
        return self.name

    def roster_mark_checked(self, *, source: str, on=None) -> None:
        """Record that the roster was checked against source (a file, a Represent set, a
        person) on `on` (now by default)."""
        self.roster_checked_at = on or timezone.now()
        self.roster_source = source[:500]
        self.save(update_fields=["roster_checked_at", "roster_source"])


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


# example.org, example.com, example.net and their subdomains (RFC 2606).
_PLACEHOLDER_DOMAIN = re.compile(r"(^|\.)example\.(org|com|net)$")


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
    def is_placeholder(self) -> bool:
        """A demo entry (councils/seed/demo.json): role-based, at an example.org-style address
        (the domains RFC 2606 reserves), standing in until the real roster is imported."""
        hosts = [self.email.rpartition("@")[2], urlsplit(self.contact_url).hostname or ""]
        return self.source == self.Source.MANUAL and any(
            _PLACEHOLDER_DOMAIN.search(host.lower()) for host in hosts if host
        )

    @property
    def title(self) -> str:
        """The role as the source published it ("Deputy Mayor"), else the role's name."""
        return self.role_text or str(self.get_role_display())

    @property
    def label(self) -> str:
        """Name and title for residents, without repeating the title ("Mayor of Toronto")."""
        return person_label(self.name, self.title)


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
    """A roster import: its plan waiting for an organizer's review, or the record of what was
    decided. It comes from an upload in the admin (read during the request, or by a task
    when the file is large: then its text waits here) or from the Represent sync (a change
    too large to apply without approval, or one applied automatically and logged).

    The plan (councils.roster_plan.RosterPlan as JSON) is what the review page shows and
    exactly what Apply writes."""

    _PROGRESS_FIELDS = [
        "rows_done",
        "created",
        "updated",
        "unchanged",
        "deactivated",
        "skipped_count",
        "updated_at",
    ]

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Running")
        REVIEW = "review", _("Waiting for review")
        APPLYING = "applying", _("Applying")
        DONE = "done", _("Applied")
        CANCELLED = "cancelled", _("Cancelled")
        OUTDATED = "outdated", _("Outdated")
        FAILED = "failed", _("Failed")

    class Source(models.TextChoices):
        UPLOAD = "upload", _("Upload")
        REPRESENT = "represent", _("Represent sync")

    source = models.CharField(
        _("source"), max_length=10, choices=Source.choices, default=Source.UPLOAD
    )
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
    # reads it; emptied once the plan is made. Load it only where needed (defer("text")).
    text = models.TextField(_("file contents"), blank=True)
    # What the import changes (councils.roster_plan); large, so deferred in lists too.
    plan = models.JSONField(_("changes"), default=dict, blank=True)
    # Why a Represent sync waits for approval: [[code, params], ...] (councils.roster_plan).
    review_reasons = models.JSONField(_("why it waits for review"), default=list, blank=True)
    rows_total = models.PositiveIntegerField(_("rows"), default=0)
    rows_done = models.PositiveIntegerField(_("rows read"), default=0)
    created = models.PositiveIntegerField(_("people created"), default=0)
    updated = models.PositiveIntegerField(_("people updated"), default=0)
    unchanged = models.PositiveIntegerField(_("people unchanged"), default=0)
    deactivated = models.PositiveIntegerField(_("people marked inactive"), default=0)
    skipped_count = models.PositiveIntegerField(_("rows skipped"), default=0)
    message = models.TextField(_("error"), blank=True)
    created_at = models.DateTimeField(_("uploaded at"), default=timezone.now)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    updated_at = models.DateTimeField(_("last progress"), auto_now=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("decided by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)

    class Meta:
        verbose_name = _("directory import")
        verbose_name_plural = _("directory imports")
        ordering = ["-created_at"]

    def __str__(self):
        return self.file_name

    @property
    def is_busy(self) -> bool:
        """A task is reading the file or applying the plan (or about to)."""
        return self.status in (self.Status.QUEUED, self.Status.RUNNING, self.Status.APPLYING)

    def percent_done(self) -> int:
        if not self.rows_total:
            return 100 if not self.is_busy else 0
        return min(100, self.rows_done * 100 // self.rows_total)

    def mark_running(self) -> None:
        """Start reading from the first row (again, after a run that was lost with its
        worker)."""
        self.status = self.Status.RUNNING
        self.started_at = timezone.now()
        self.rows_done = self.created = self.updated = self.unchanged = 0
        self.deactivated = self.skipped_count = 0
        self.save(update_fields=[*self._PROGRESS_FIELDS, "status", "started_at"])

    def record_progress(self, *, rows: int, counts) -> None:
        """Count a batch of rows as read, with the plan's counts so far (a RosterPlan)."""
        self.rows_done += rows
        self._take_counts(counts)
        self.save(update_fields=self._PROGRESS_FIELDS)

    def mark_review(self, *, plan, reasons: list | None = None) -> None:
        """The plan is made (a RosterPlan): it waits for an organizer; the file is no longer
        needed."""
        self.status = self.Status.REVIEW
        self.plan = plan.to_json()
        self.review_reasons = reasons or []
        self.rows_done = self.rows_total
        self.text = ""
        self._take_counts(plan)
        self.save()

    def mark_applying(self, *, by) -> None:
        self.status = self.Status.APPLYING
        self.decided_by = by
        self.decided_at = timezone.now()
        self.save(update_fields=["status", "decided_by", "decided_at", "updated_at"])

    def mark_done(self, *, by=None) -> None:
        """The plan was applied (by an organizer, or automatically when `by` is None)."""
        self.status = self.Status.DONE
        if self.decided_at is None:
            self.decided_by = by
            self.decided_at = timezone.now()
        self._finish()

    def mark_cancelled(self, *, by) -> None:
        self.status = self.Status.CANCELLED
        self.decided_by = by
        self.decided_at = timezone.now()
        self._finish()

    def mark_outdated(self, *, message: str) -> None:
        """The roster changed since the plan was made: applying it would undo that change."""
        self.status = self.Status.OUTDATED
        self.message = message
        self._finish()

    def mark_failed(self, *, message: str, counts=None) -> None:
        """Record why the job stopped; nothing was changed in the directory."""
        self.status = self.Status.FAILED
        self.message = message
        if counts is not None:
            self._take_counts(counts)
        self._finish()

    def _finish(self) -> None:
        self.text = ""
        self.finished_at = timezone.now()
        self.save()

    def _take_counts(self, counts) -> None:
        self.created = counts.created
        self.updated = counts.updated
        self.unchanged = counts.unchanged
        self.deactivated = counts.deactivated
        self.skipped_count = counts.skipped_count


class ContactReport(models.Model):
    """A resident's "Wrong or outdated contact?" about one representative, for an organizer to
    check. It holds nothing about who sent it."""

    DETAILS_MAX = 1000

    class Problem(models.TextChoices):
        LEFT_OFFICE = "left_office", _("This person no longer holds this office")
        WRONG_EMAIL = "wrong_email", _("The email address is wrong or no longer works")
        WRONG_DETAILS = "wrong_details", _("Another detail is wrong (name, role, ward, phone)")
        OTHER = "other", _("Something else")

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        RESOLVED = "resolved", _("Resolved")
        DISMISSED = "dismissed", _("Dismissed")

    representative = models.ForeignKey(
        Representative,
        verbose_name=_("representative"),
        on_delete=models.CASCADE,
        related_name="contact_reports",
    )
    problem = models.CharField(_("what is wrong"), max_length=20, choices=Problem.choices)
    details = models.TextField(_("details or the correct information"), blank=True)
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.OPEN
    )
    created_at = models.DateTimeField(_("reported at"), default=timezone.now)
    resolved_at = models.DateTimeField(_("resolved at"), null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("resolved by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta:
        verbose_name = _("contact report")
        verbose_name_plural = _("contact reports")
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["status", "created_at"])]

    def __str__(self):
        return f"{self.representative.name}: {self.get_problem_display()}"

    def mark(self, *, status: str, by) -> None:
        self.status = status
        self.resolved_by = by
        self.resolved_at = timezone.now()
        self.save(update_fields=["status", "resolved_by", "resolved_at"])
