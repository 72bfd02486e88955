from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from localflavor.ca.ca_provinces import PROVINCE_CHOICES


class Role(models.TextChoices):
    """Offices a representative can hold; campaigns pick their target roles from these."""

    MAYOR = "mayor", _("Mayor")
    DEPUTY_MAYOR = "deputy_mayor", _("Deputy mayor")
    COUNCILLOR = "councillor", _("Councillor")
    REGIONAL_COUNCILLOR = "regional_councillor", _("Regional councillor")
    BOROUGH_MAYOR = "borough_mayor", _("Borough mayor")
    OTHER = "other", _("Other")


class Municipality(models.Model):
    ocd_id = models.CharField(_("OCD division id"), max_length=200, unique=True)
    csd_code = models.CharField(
        _("census subdivision code"), max_length=7, blank=True, db_index=True
    )
    name = models.CharField(_("name"), max_length=200)
    name_fr = models.CharField(_("French name"), max_length=200, blank=True)
    province = models.CharField(_("province"), max_length=2, choices=PROVINCE_CHOICES)
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
    council_size = models.PositiveSmallIntegerField(_("council size"), null=True, blank=True)
    represent_set = models.SlugField(_("Represent set slug"), max_length=200, blank=True)
    active = models.BooleanField(
        _("active"),
        default=True,
        help_text=_("Inactive entries (reserves, unorganized areas) are not offered to residents."),
    )

    class Meta:
        verbose_name = _("municipality")
        verbose_name_plural = _("municipalities")
        ordering = ["name", "province"]
        indexes = [models.Index(fields=["province", "name"])]

    def __str__(self):
        return f"{self.name} ({self.province})"

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


class Representative(models.Model):
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

    class Meta:
        verbose_name = _("representative")
        verbose_name_plural = _("representatives")
        ordering = ["municipality", "role", "last_name", "name"]
        indexes = [models.Index(fields=["municipality", "active", "role"])]

    def __str__(self):
        return f"{self.name}, {self.get_role_display()} ({self.municipality.name})"
