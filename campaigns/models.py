import re
import string
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy as _

from councils.models import Role

# What the recipient placeholders become when one letter goes to several representatives
# (letters.composition). The campaign page's sample letter shows them too: a resident writes
# to the whole council unless they untick people.
COUNCIL_RECIPIENT_NAME = _("Mayor and Council")
COUNCIL_RECIPIENT_TITLE = _("Members of Council")
COUNCIL_SALUTATION = _("Dear Mayor and Council")
# The greeting of a letter to one representative; %(name)s is their name.
ONE_SALUTATION = _("Dear %(name)s")

# Placeholders an organizer may use in a letter subject or body: what each becomes, and the
# stand-in the campaign page shows before a resident has filled in the form.
LETTER_PLACEHOLDERS = {
    "municipality": (_("the municipality's name, e.g. Toronto"), _("[your municipality]")),
    "council": (_("the council's name, e.g. City of Toronto"), _("[your council]")),
    "province": (_("the province or territory"), _("[your province]")),
    "salutation": (
        _(
            "the greeting, in the letter's language: 'Dear Mayor and Council' for the whole "
            "council, 'Dear' and the name for one representative"
        ),
        COUNCIL_SALUTATION,
    ),
    "recipient_name": (
        _("the representative's name, or 'Mayor and Council' for the whole council"),
        COUNCIL_RECIPIENT_NAME,
    ),
    "recipient_title": (
        _("the representative's title, e.g. Councillor"),
        COUNCIL_RECIPIENT_TITLE,
    ),
    "sender_name": (_("the resident's first and last name"), _("[your name]")),
    "sender_first_name": (_("the resident's first name"), _("[your first name]")),
    "postal_code": (_("the resident's postal code"), _("[your postal code]")),
    "personal_part": (
        _(
            "where the resident's own words go, on a line of its own (without it they go "
            "after the opening paragraph)"
        ),
        _("[your own words]"),
    ),
}
# The placeholder that marks where the resident's own words go (split_at_personal_part).
PERSONAL_PART = "{personal_part}"
# The placeholders that name whom the letter is addressed to.
RECIPIENT_PLACEHOLDERS = ("salutation", "recipient_name", "recipient_title")


def placeholder_names(text: str) -> list[str]:
    """Return the {placeholder} names used in a template, in order.

    Raises ValidationError when the braces themselves are malformed ("{municipality" or "}").
    """
    names = []
    try:
        for _literal, field_name, _spec, _conversion in string.Formatter().parse(text or ""):
            if field_name is not None:
                names.append(field_name)
    except ValueError as exc:
        raise ValidationError(
            _("Check the curly braces: %(error)s. Write {{ and }} for a literal brace."),
            params={"error": exc},
            code="braces",
        ) from exc
    return names


def validate_letter_template(text: str) -> None:
    unknown = [name for name in placeholder_names(text) if name not in LETTER_PLACEHOLDERS]
    if unknown:
        raise ValidationError(
            _("Unknown placeholders: %(names)s. Allowed: %(allowed)s."),
            params={
                "names": ", ".join("{" + name + "}" for name in dict.fromkeys(unknown)),
                "allowed": ", ".join("{" + name + "}" for name in LETTER_PLACEHOLDERS),
            },
            code="placeholder",
        )


def render_letter_template(text: str, context: dict[str, str]) -> str:
    """Fill {placeholders}; names missing from context stay as they were typed."""
    return string.Formatter().vformat(text or "", (), _Missing(context))


def sample_placeholders() -> dict[str, str]:
    """Stand-ins for showing a letter before a resident has filled in the form: bracketed
    hints for the resident's details, the whole council for the recipients."""
    return {name: str(sample) for name, (_meaning, sample) in LETTER_PLACEHOLDERS.items()}


def site_organization(language: str | None = None) -> str:
    """The site's organization name in a language (the active one by default):
    ORGANIZATION_NAME, or ORGANIZATION_NAME_FR in French."""
    language = language or translation.get_language() or settings.LANGUAGE_CODE
    if language.split("-")[0] == "fr":
        return settings.ORGANIZATION_NAME_FR
    return settings.ORGANIZATION_NAME


def split_at_personal_part(text: str) -> tuple[str, str]:
    """The letter text before and after the resident's own words, both without the
    surrounding blank lines.

    The personal part goes where {personal_part} is (the first one; any other is dropped).
    Without the placeholder it goes after the opening paragraph: the first paragraph, or the
    second when the first is a greeting line ("Dear Mayor and Council,"). So it reads as part
    of the letter, after the writer introduced themselves and before what they ask for.
    """
    text = (text or "").strip()
    if PERSONAL_PART in text:
        before, _sep, after = text.partition(PERSONAL_PART)
        return before.strip(), after.replace(PERSONAL_PART, "").strip()
    paragraphs = [p for p in re.split(r"\n[ \t]*\n", text) if p.strip()]
    opening = 1
    if len(paragraphs) > 1 and _is_greeting(paragraphs[0]):
        opening = 2
    return (
        "\n\n".join(p.strip("\n") for p in paragraphs[:opening]),
        "\n\n".join(p.strip("\n") for p in paragraphs[opening:]),
    )


def _is_greeting(paragraph: str) -> bool:
    line = paragraph.strip()
    return "\n" not in line and len(line) <= 120 and line.endswith((",", ":", "!"))


def join_paragraphs(*parts: str) -> str:
    """The non-empty parts, one blank line apart."""
    return "\n\n".join(part for part in parts if part)


class _Missing(dict):
    def __missing__(self, key):
        return "{" + key + "}"


class CampaignQuerySet(models.QuerySet):
    def live(self):
        return self.filter(status=Campaign.Status.LIVE)

    def public(self):
        """Campaigns the public may open: live or closed, never drafts."""
        return self.exclude(status=Campaign.Status.DRAFT)


class Campaign(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        LIVE = "live", _("Live")
        CLOSED = "closed", _("Closed")

    class EditingMode(models.TextChoices):
        LOCKED = "locked", _("Locked: the letter cannot be changed")
        PERSONAL = "personal", _("Personal paragraph only")
        EDITABLE = "editable", _("Fully editable")

    class RecipientScope(models.TextChoices):
        WHOLE_COUNCIL = "council", _("The whole council (every target role)")
        MAYOR_AND_WARD = "ward", _("The mayor and the resident's ward councillor")

    class SendMode(models.TextChoices):
        EACH = "each", _("One email to each recipient")
        TOGETHER = "together", _("One email to the whole council (reply-all reaches everyone)")

    class Schedule(models.TextChoices):
        AS_THEY_COME = "each", _("Each letter as it comes (paced per recipient)")
        DAILY_DIGEST = "digest", _("One daily digest per councillor, with every letter in full")

    class ClerkMode(models.TextChoices):
        OFF = "off", _("No")
        EACH = "each", _("Each letter, as correspondence for a council meeting")
        DAILY = "daily", _("A daily bundle of the letters, as correspondence")

    LANGUAGE_CHOICES = [("en", _("English")), ("fr", _("French"))]

    slug = models.SlugField(_("slug"), max_length=80, unique=True)
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.DRAFT
    )
    opens_at = models.DateTimeField(
        _("opens at"), null=True, blank=True, help_text=_("Optional: letters accepted from then.")
    )
    closes_at = models.DateTimeField(
        _("closes at"), null=True, blank=True, help_text=_("Optional: letters refused after.")
    )
    default_language = models.CharField(
        _("default language"), max_length=2, choices=LANGUAGE_CHOICES, default="en"
    )

    # Copy; django-modeltranslation adds the _en and _fr columns (campaigns/translation.py).
    title = models.CharField(_("title"), max_length=200)
    summary = models.TextField(_("summary"), blank=True, help_text=_("One or two sentences."))
    body = models.TextField(_("body"), blank=True, help_text=_("Markdown."))
    letter_subjects = models.TextField(
        _("letter subjects"),
        help_text=_(
            "One subject per line. Each letter picks one, so councils do not receive a "
            "thousand identical subjects. Placeholders such as {municipality} work here."
        ),
    )
    letter_template = models.TextField(
        _("letter body template"),
        help_text=_(
            "The letter as sent. Placeholders: {municipality}, {council}, {province}, "
            "{salutation}, {recipient_name}, {recipient_title}, {sender_name}, "
            "{sender_first_name}, {postal_code}, {personal_part}. The resident's own words go "
            "where {personal_part} stands on a line of its own (without it, after the opening "
            "paragraph); the talking points they choose follow the letter."
        ),
    )
    personal_prompt = models.CharField(
        _("personal-message prompt"),
        max_length=300,
        blank=True,
        help_text=_(
            "The invitation to write in one's own words. Add two or three questions below "
            "(Prompts) for residents to answer."
        ),
    )
    thanks_text = models.TextField(_("thank-you text"), blank=True, help_text=_("Markdown."))
    share_text = models.CharField(_("share text"), max_length=280, blank=True)

    editing_mode = models.CharField(
        _("editing mode"), max_length=10, choices=EditingMode.choices, default=EditingMode.PERSONAL
    )
    target_roles = models.JSONField(
        _("target roles"),
        default=list,
        help_text=_("Which representatives receive the letter."),
    )
    recipient_scope = models.CharField(
        _("recipients"),
        max_length=10,
        choices=RecipientScope.choices,
        default=RecipientScope.WHOLE_COUNCIL,
    )
    # Two-tier places (Mississauga in Peel Region): the letter goes to the local council; this
    # adds the upper tier's council (regional or county) in the same target roles.
    include_upper_tier = models.BooleanField(
        _("also write to the regional or county council"),
        default=False,
        help_text=_(
            "Where a municipality belongs to an upper tier (Mississauga in Peel Region, a "
            "county, a regional county municipality), also send the letter to that council's "
            "representatives in the target roles."
        ),
    )
    send_mode = models.CharField(
        _("send mode"), max_length=10, choices=SendMode.choices, default=SendMode.EACH
    )
    schedule = models.CharField(
        _("delivery schedule"),
        max_length=10,
        choices=Schedule.choices,
        default=Schedule.AS_THEY_COME,
        help_text=_(
            "A digest sends each councillor at most one email a day: it says how many residents "
            "wrote and carries every letter in full."
        ),
    )
    office_hours_only = models.BooleanField(
        _("deliver in office hours only"),
        default=False,
        help_text=_(
            "Monday to Friday, 8:00 to 18:00 in the municipality's time zone, except its "
            "province's public holidays."
        ),
    )
    clerk_mode = models.CharField(
        _("send to the clerk"),
        max_length=10,
        choices=ClerkMode.choices,
        default=ClerkMode.OFF,
        help_text=_(
            "Also send letters whose writers agreed to publication to the municipality's clerk, "
            "as correspondence for a council meeting (many councils file only these in the "
            "public record)."
        ),
    )
    clerk_agenda_item = models.CharField(
        _("agenda item"),
        max_length=300,
        blank=True,
        help_text=_("The council meeting's agenda item the correspondence is about."),
    )
    clerk_deadline = models.DateTimeField(
        _("correspondence deadline"),
        null=True,
        blank=True,
        help_text=_("Letters confirmed after this are not sent to the clerk."),
    )
    followup_days = models.PositiveSmallIntegerField(
        _("follow-up after (days)"),
        default=14,
        validators=[MinValueValidator(1)],
        help_text=_(
            "Writers who asked for it get one email this many days after their letter went out, "
            "asking whether council replied."
        ),
    )
    show_responsiveness = models.BooleanField(
        _("show responsiveness on the campaign page"),
        default=False,
        help_text=_("Per council: letters delivered and replies reported, with the caveats."),
    )
    requires_confirmation = models.BooleanField(
        _("confirm by email"),
        default=True,
        help_text=_("Letters wait until the resident clicks the link in a confirmation email."),
    )
    hold_after_election = models.BooleanField(
        _("hold letters after an election"),
        default=True,
        help_text=_(
            "Letters to a council whose election took place after its contacts were last "
            "checked wait for the new council's contacts, rather than going to members who may "
            "have lost their seats."
        ),
    )
    goal = models.PositiveIntegerField(_("goal"), default=1000)
    # Kept up to date by the letters app as letters are confirmed, so the page never counts rows.
    letters_count = models.PositiveIntegerField(_("letters sent"), default=0, editable=False)

    press_name = models.CharField(_("press contact name"), max_length=200, blank=True)
    press_phone = models.CharField(_("press contact phone"), max_length=50, blank=True)
    press_email = models.EmailField(_("press contact email"), blank=True)

    # Translated (campaigns/translation.py); Campaign.organization() falls back to the site's.
    organization_name = models.CharField(
        _("organization name"),
        max_length=100,
        blank=True,
        help_text=_(
            "Who runs this campaign: named in the consent residents give, in the sender of "
            "letters (“First Last via <organization>”) and emails, and at the foot of its "
            "pages. Empty: the site's organization."
        ),
    )
    sender_email = models.EmailField(
        _("sending address"),
        help_text=_("An address on the organization's own domain, so DMARC passes."),
    )
    retention_days = models.PositiveIntegerField(
        _("retention (days)"),
        default=365,
        validators=[MinValueValidator(1)],
        help_text=_("After this many days past closing, residents' personal data is erased."),
    )

    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    objects = CampaignQuerySet.as_manager()

    class Meta:
        verbose_name = _("campaign")
        verbose_name_plural = _("campaigns")
        ordering = ["-created_at"]

    def __str__(self):
        return self.title

    def get_absolute_url(self):
        return reverse("letters:campaign", kwargs={"slug": self.slug})

    def clean(self):
        errors = {}
        for field in ("letter_subjects", "letter_template"):
            for language in ("en", "fr"):
                name = f"{field}_{language}"
                try:
                    validate_letter_template(getattr(self, name, "") or "")
                except ValidationError as exc:
                    errors[name] = exc.messages
        for language in ("en", "fr"):
            name = f"letter_subjects_{language}"
            if name not in errors and "personal_part" in placeholder_names(
                getattr(self, name, "") or ""
            ):
                errors[name] = [
                    _("{personal_part} goes in the letter body: a subject is one line.")
                ]
        unknown_roles = [role for role in self.target_roles or [] if role not in Role.values]
        if unknown_roles:
            errors["target_roles"] = [
                _("Unknown roles: %(roles)s.") % {"roles": ", ".join(map(str, unknown_roles))}
            ]
        if self.opens_at and self.closes_at and self.closes_at <= self.opens_at:
            errors["closes_at"] = [_("The closing time must come after the opening time.")]
        if self.clerk_mode != self.ClerkMode.OFF and not self.clerk_agenda_item:
            errors["clerk_agenda_item"] = [
                _("Name the agenda item: clerks file correspondence under one.")
            ]
        if errors:
            raise ValidationError(errors)

    def organization(self, language: str | None = None) -> str:
        """Who runs the campaign, in a language (the active one by default): its own
        organization name (the other language's when only that one is filled in), else the
        site's. The consent wording, the emails' From names and the footer all use it."""
        with translation.override(language or translation.get_language()):
            return self.organization_name or site_organization()

    def is_accepting_letters(self, now=None) -> bool:
        """True when the campaign is live and inside its optional open/close window."""
        now = now or timezone.now()
        if self.status != self.Status.LIVE:
            return False
        if self.opens_at and now < self.opens_at:
            return False
        return not (self.closes_at and now >= self.closes_at)

    def recipient_rule(self) -> dict:
        """Who this campaign writes to, as councils.selectors.recipients_for's arguments: the
        target roles, whether only the mayor and the resident's ward councillor, and whether
        the upper tier's council too."""
        return {
            "roles": list(self.target_roles or []),
            "mayor_and_ward_only": self.recipient_scope == self.RecipientScope.MAYOR_AND_WARD,
            "include_upper_tier": self.include_upper_tier,
        }

    def accepts_confirmations(self, now=None) -> bool:
        """True while letters waiting for confirmation may still be confirmed: while the
        campaign accepts letters, and for LETTERS_CONFIRMATION_GRACE_HOURS after it closed at
        its closing time (a campaign closed by hand takes none)."""
        now = now or timezone.now()
        if self.is_accepting_letters(now):
            return True
        grace = timedelta(hours=settings.LETTERS_CONFIRMATION_GRACE_HOURS)
        return bool(
            self.status == self.Status.LIVE and self.closes_at and now < self.closes_at + grace
        )

    def phase(self, now=None) -> str:
        """What the public page shows: 'open', 'upcoming' or 'closed' ('draft' for drafts)."""
        now = now or timezone.now()
        if self.status == self.Status.DRAFT:
            return "draft"
        if self.status == self.Status.CLOSED or (self.closes_at and now >= self.closes_at):
            return "closed"
        if self.opens_at and now < self.opens_at:
            return "upcoming"
        return "open"

    def personal_data_erased_at(self, written_at):
        """When the personal data of a letter written at written_at is erased (the purge,
        letters.erasure, runs daily after it): retention_days after the later of the letter
        and the campaign's closing time. A campaign closed by hand, without a closing time,
        keeps each letter for the period from its writing."""
        start = max(written_at, self.closes_at) if self.closes_at else written_at
        return start + timedelta(days=self.retention_days)

    def letters_due_for_erasure_before(self, now):
        """The writing time at or before which letters are due for erasure at now (see
        personal_data_erased_at, whose inverse this is), or None while none are: before
        the closing time plus the retention period."""
        cutoff = now - timedelta(days=self.retention_days)
        if self.closes_at and self.closes_at > cutoff:
            return None
        return cutoff

    def subject_list(self) -> list[str]:
        """Subjects in the active language, one per non-empty line."""
        return [line.strip() for line in (self.letter_subjects or "").splitlines() if line.strip()]

    def get_target_roles_display(self) -> str:
        labels = dict(Role.choices)
        return ", ".join(str(labels.get(role, role)) for role in self.target_roles or [])


class Citation(models.Model):
    campaign = models.ForeignKey(
        Campaign, verbose_name=_("campaign"), on_delete=models.CASCADE, related_name="citations"
    )
    order = models.PositiveSmallIntegerField(_("order"), default=0)
    title = models.CharField(_("title"), max_length=300)
    publisher = models.CharField(_("publisher"), max_length=200, blank=True)
    published_on = models.DateField(_("date"), null=True, blank=True)
    url = models.URLField(_("URL"), max_length=500, blank=True)

    class Meta:
        verbose_name = _("citation")
        verbose_name_plural = _("citations")
        ordering = ["campaign", "order", "pk"]

    def __str__(self):
        return self.title


class TalkingPoint(models.Model):
    campaign = models.ForeignKey(
        Campaign,
        verbose_name=_("campaign"),
        on_delete=models.CASCADE,
        related_name="talking_points",
    )
    order = models.PositiveSmallIntegerField(_("order"), default=0)
    text = models.TextField(_("text"), help_text=_("Markdown; a sentence or two."))
    citation = models.ForeignKey(
        Citation,
        verbose_name=_("citation"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="talking_points",
    )

    class Meta:
        verbose_name = _("talking point")
        verbose_name_plural = _("talking points")
        ordering = ["campaign", "order", "pk"]

    def __str__(self):
        return self.text[:80]

    def clean(self):
        if self.citation_id and self.campaign_id and self.citation.campaign_id != self.campaign_id:
            raise ValidationError({"citation": _("Pick a citation of the same campaign.")})


class CampaignPrompt(models.Model):
    """A question offered to residents for the personal part of their letter. They answer
    one or more in their own words, or write freely; the question itself is not sent."""

    campaign = models.ForeignKey(
        Campaign, verbose_name=_("campaign"), on_delete=models.CASCADE, related_name="prompts"
    )
    order = models.PositiveSmallIntegerField(_("order"), default=0)
    text = models.CharField(
        _("question"),
        max_length=300,
        help_text=_("e.g. How would facial recognition affect you or your neighbourhood?"),
    )

    class Meta:
        verbose_name = _("prompt")
        verbose_name_plural = _("prompts")
        ordering = ["campaign", "order", "pk"]

    def __str__(self):
        return self.text
