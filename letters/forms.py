"""The resident's letter form, in three steps: council, letter, preview."""

import re
import unicodedata

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.formats import number_format
from django.utils.functional import lazy
from django.utils.html import escape, format_html, format_html_join
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext_lazy

from campaigns.models import Campaign, TalkingPoint
from councils.models import ContactReport, Representative
from councils.selectors import postcode_normalise

from .composition import BODY_MAX, PERSONAL_MESSAGE_MAX, SUBJECT_MAX

# Line breaks and other control characters never belong in a name or a subject: they would
# end up in an email header ("First Last via Org").
_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]")


def validate_single_line(value: str) -> None:
    if _CONTROL.search(value or ""):
        raise ValidationError(_("Use a single line, without line breaks."), code="single_line")


def strip_format_characters(value: str) -> str:
    """Drop Unicode format characters (category Cf): direction overrides and isolates,
    zero-width spaces and joiners, byte-order marks. Invisible on screen, in a name they only
    serve to disguise one: "\u202eroyaM" shows as "Mayor"."""
    return "".join(ch for ch in value if unicodedata.category(ch) != "Cf").strip()


# What turns a display name into something else in a mail client: an address (@ < >), a
# comment or group ("Mayor (Office of the Mayor)", "[City Hall]"), a quoted phrase, or an
# RFC 2047 encoded word ("=?utf-8?b?...?="), which a mail client decodes into any text. The
# checks run on the NFKC form, so full-width lookalikes (＜＠＞) count as well; apostrophes
# (O'Brien, O’Brien) stay allowed.
_NAME_ENCODED_WORD = "=?"
_NAME_BRACKETS = re.compile(r"[@<>()\[\]{}]")
_NAME_QUOTES = re.compile(r'["“”„‟«»‹›〝〞〟]')
# A name is no place for sentences (a locked letter's slogans would go there): no ! ? ; : or
# ellipsis, and no full stop after a word of four letters or more with more text after it.
# Initials and abbreviations keep theirs: "J. R.", "St. John", "Ste. Anne", "Jr.".
_NAME_SENTENCE = re.compile(r"[!?;:¡¿]|\.\.|[^\W\d_]{4,}\.\s+\S")
# Bounds on the sender's fields, which every letter carries even when the campaign locks its
# text: room for real names and an address, not for a slogan.
NAME_MAX = 50
STREET_ADDRESS_MAX = 100


def validate_person_name(value: str) -> None:
    folded = unicodedata.normalize("NFKC", value)
    if _NAME_ENCODED_WORD in folded:
        raise ValidationError(_("Enter your name without “=?”."), code="encoded_word")
    if _NAME_BRACKETS.search(folded):
        raise ValidationError(
            _("Enter your name without @, <, > or brackets."), code="name_brackets"
        )
    if _NAME_QUOTES.search(folded):
        raise ValidationError(
            _("Enter your name without quotation marks (apostrophes are fine)."),
            code="name_quotes",
        )
    if _NAME_SENTENCE.search(folded):
        raise ValidationError(_("Enter only your name here, not sentences."), code="name_sentence")


def validate_street_address(value: str) -> None:
    if value and not re.search(r"\d", unicodedata.normalize("NFKC", value)):
        raise ValidationError(
            _("Enter your street address with its number, e.g. 12 Main Street."),
            code="street_number",
        )


def _talking_point_label(point: TalkingPoint) -> str:
    if point.citation_id:
        return _("%(text)s (source: %(source)s)") % {
            "text": point.text,
            "source": point.citation.title,
        }
    return point.text


_lazy_label = lazy(_talking_point_label, str)


# The separate consent to publication: letters filed with the clerk as correspondence for a
# council meeting may appear in the public record. Stored with each letter, like CASL consent.
PUBLICATION_CONSENT_LABEL = _(
    "Also file my letter with the municipal clerk as correspondence for council. I agree that "
    "it may be published in the public record, with my name."
)


FOLLOWUP_LABEL = _("Ask me in two weeks whether council replied")


class LongTextField(forms.CharField):
    """Text with a limit the browser does not enforce: no maxlength attribute, so nothing
    typed is cut off unseen (the page's counter shows the count as people type). Past the
    limit, the error says the limit and by how much the text is over it; the text is kept.

    too_long: a message with %(limit)s and %(excess)s, plural on %(count)s (the excess).
    max_length stays set, as the bound of what the draft keeps (letters.drafts)."""

    def __init__(self, *, max_length: int, too_long, **kwargs):
        super().__init__(**kwargs)
        self.max_length = max_length
        self.too_long = too_long

    def validate(self, value):
        super().validate(value)
        excess = len(value) - self.max_length
        if excess > 0:
            raise ValidationError(
                self.too_long
                % {
                    "limit": number_format(self.max_length, force_grouping=True),
                    "excess": number_format(excess, force_grouping=True),
                    "count": excess,
                },
                code="max_length",
            )


class PostalCodeForm(forms.Form):
    postal_code = forms.CharField(
        label=_("Postal code"),
        max_length=10,
        help_text=_("For example K1A 0B1. It tells us which council represents you."),
        error_messages={
            "required": _("Enter your postal code."),
            "max_length": _("Enter a postal code like K1A 0B1."),
        },
        widget=forms.TextInput(attrs={"autocomplete": "postal-code", "spellcheck": "false"}),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # A pasted "K1A 0B1, Ottawa" is refused with a message, not cut to "K1A 0B1, O".
        self.fields["postal_code"].widget.attrs.pop("maxlength", None)

    def clean_postal_code(self):
        try:
            return postcode_normalise(self.cleaned_data["postal_code"])
        except ValidationError as exc:
            raise ValidationError(_("Enter a postal code like K1A 0B1."), code="invalid") from exc


class MunicipalitySearchForm(forms.Form):
    q = forms.CharField(
        label=_("Search municipalities"),
        max_length=100,
        required=False,
        widget=forms.TextInput(attrs={"type": "search", "autocomplete": "off"}),
    )


class MunicipalityForm(forms.Form):
    """The picker shown when a postal code does not decide the council: radio buttons for a
    short list, a select (grouped) for a longer one.

    groups: [(title or None, [(value, label), ...]), ...], values "municipality id" or
    "municipality id:ward id", built by letters.pages. offered(value) says whether a pick is
    one the picker can offer, also when it is not on the current screen (the resident picked,
    then typed in the search box before Continue).
    """

    RADIO_LIMIT = 5

    municipality = forms.ChoiceField(
        label=_("Municipality"),
        error_messages={
            "required": _("Choose your municipality."),
            "invalid_choice": _("Choose your municipality from the list."),
        },
    )

    def __init__(self, *args, groups, offered=None, **kwargs):
        super().__init__(*args, **kwargs)
        field = self.fields["municipality"]
        options = [option for _title, group in groups for option in group]
        if len(options) <= self.RADIO_LIMIT:
            field.widget = forms.RadioSelect()
            field.choices = options
        else:
            grouped = [option for title, group in groups for option in _grouped(title, group)]
            field.choices = [("", _("Choose your municipality")), *grouped]
        if offered is not None:
            field.valid_value = lambda value: value in dict(options) or offered(value)

    def clean_municipality(self):
        value = self.cleaned_data["municipality"]
        municipality_id, _sep, ward_id = value.partition(":")
        return int(municipality_id), int(ward_id) if ward_id else None


def _grouped(title, group: list) -> list:
    return [(title, group)] if title else group


def personal_help(campaign: Campaign) -> str:
    """The invitation under "Your personal message": the campaign's prompt, then its
    questions to answer (one or more) or not. Help texts are rendered as HTML; organizer
    copy is text, so it is escaped."""
    prompts = [prompt.text for prompt in campaign.prompts.all() if prompt.text]
    if not prompts:
        return escape(campaign.personal_prompt)
    return format_html(
        '{}<span class="d-block">{}</span><ul class="personal-prompts mb-0">{}</ul>',
        format_html('<span class="d-block mb-1">{}</span>', campaign.personal_prompt)
        if campaign.personal_prompt
        else "",
        _("You could answer one or more of these questions, or write freely:"),
        format_html_join("", "<li>{}</li>", ((text,) for text in prompts)),
    )


class LetterForm(forms.Form):
    """Recipients, the letter's personal parts and the sender.

    Which letter fields exist depends on the campaign's editing mode, so a crafted POST of a
    locked part has no field to land in.
    """

    recipients = forms.TypedMultipleChoiceField(
        label=_("Send my letter to"),
        coerce=int,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("Untick anyone you do not want to write to."),
        error_messages={"invalid_choice": _("Choose recipients from this council only.")},
    )
    subject = forms.CharField(
        label=_("Subject"),
        max_length=SUBJECT_MAX,
        validators=[validate_single_line],
        error_messages={
            "required": _("Enter a subject."),
            "max_length": _("The subject must be %(limit_value)s characters or fewer."),
        },
    )
    body = LongTextField(
        label=_("Letter"),
        max_length=BODY_MAX,
        too_long=ngettext_lazy(
            "Your letter must be %(limit)s characters or fewer. "
            "You have %(excess)s character too many.",
            "Your letter must be %(limit)s characters or fewer. "
            "You have %(excess)s characters too many.",
            "count",
        ),
        error_messages={"required": _("Enter the text of your letter.")},
        widget=forms.Textarea(attrs={"rows": 14, "data-counter": ""}),
    )
    personal_message = LongTextField(
        label=_("Your personal message"),
        max_length=PERSONAL_MESSAGE_MAX,
        too_long=ngettext_lazy(
            "Your personal message must be %(limit)s characters or fewer. "
            "You have %(excess)s character too many.",
            "Your personal message must be %(limit)s characters or fewer. "
            "You have %(excess)s characters too many.",
            "count",
        ),
        required=False,
        widget=forms.Textarea(attrs={"rows": 6, "data-counter": ""}),
    )
    talking_points = forms.TypedMultipleChoiceField(
        label=_("Add talking points"),
        coerce=int,
        required=False,
        widget=forms.CheckboxSelectMultiple(attrs={"data-talking-point": ""}),
        help_text=_("Each one is added to your letter, with its source as a footnote."),
        error_messages={"invalid_choice": _("Choose talking points from the list.")},
    )
    first_name = forms.CharField(
        label=_("First name"),
        max_length=NAME_MAX,
        validators=[validate_single_line],
        error_messages={
            "required": _("Enter your first name."),
            "max_length": _("Your first name must be %(limit_value)s characters or fewer."),
        },
        widget=forms.TextInput(attrs={"autocomplete": "given-name"}),
    )
    last_name = forms.CharField(
        label=_("Last name"),
        max_length=NAME_MAX,
        validators=[validate_single_line],
        error_messages={
            "required": _("Enter your last name."),
            "max_length": _("Your last name must be %(limit_value)s characters or fewer."),
        },
        widget=forms.TextInput(attrs={"autocomplete": "family-name"}),
    )
    email = forms.EmailField(
        label=_("Email"),
        max_length=254,
        error_messages={
            "required": _("Enter your email address."),
            "invalid": _("Enter an email address in the correct format, like name@example.com."),
            "max_length": _("Your email address must be %(limit_value)s characters or fewer."),
        },
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )
    street_address = forms.CharField(
        label=_("Street address (optional)"),
        max_length=STREET_ADDRESS_MAX,
        required=False,
        validators=[validate_single_line],
        error_messages={
            "max_length": _("Your street address must be %(limit_value)s characters or fewer."),
        },
        widget=forms.TextInput(attrs={"autocomplete": "street-address"}),
        # Two messages, so the first keeps its translation.
        help_text=format_lazy(
            "{} {}",
            _("Some councillors answer only residents who give an address."),
            _("Include the civic number, e.g. 12 Main Street."),
        ),
    )
    send_copy = forms.BooleanField(label=_("Send me a copy"), required=False, initial=True)
    keep_updated = forms.BooleanField(
        label=_("Keep me updated about this campaign"), required=False, initial=False
    )
    # Only for campaigns that file letters with the clerk (the label is the stored wording).
    publish = forms.BooleanField(label=PUBLICATION_CONSENT_LABEL, required=False, initial=False)
    # "Ask me in two weeks whether council replied" (the label is the stored wording).
    followup = forms.BooleanField(label=FOLLOWUP_LABEL, required=False, initial=False)
    # Offered only when the council has nobody to email (letters.services.HOLD_LABEL).
    hold_consent = forms.BooleanField(
        label=_("Send my letter when you add my council"), required=False, initial=False
    )
    # Honeypot: hidden from people (CSS), filled in by naive bots.
    website = forms.CharField(
        label=_("Leave this field empty"),
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "off", "tabindex": "-1"}),
    )

    def __init__(
        self,
        *args,
        campaign: Campaign,
        representatives: list[Representative],
        talking_points: list[tuple[TalkingPoint, int | None]],
        consent_help: str = "",
        hold_help: str = "",
        **kwargs,
    ):
        super().__init__(*args, **kwargs)
        self.campaign = campaign
        self.representatives = representatives
        self.emailable = [rep for rep in representatives if rep.can_email]
        self.fields["recipients"].choices = [(rep.pk, rep.label) for rep in self.emailable]
        if not self.is_bound and "recipients" not in self.initial:
            self.initial["recipients"] = [rep.pk for rep in self.emailable]
        if not self.emailable:
            del self.fields["recipients"]
            if hold_help:
                self.fields["hold_consent"].help_text = escape(hold_help)
        else:
            del self.fields["hold_consent"]
        mode = campaign.editing_mode
        if mode != Campaign.EditingMode.EDITABLE:
            del self.fields["subject"]
            del self.fields["body"]
        if mode == Campaign.EditingMode.LOCKED:
            del self.fields["personal_message"]
            del self.fields["talking_points"]
        else:
            self.fields["personal_message"].help_text = personal_help(campaign)
            # Labels are built when the form is shown, not when a Send only validates it.
            self.fields["talking_points"].choices = [
                (point.pk, _lazy_label(point)) for point, _number in talking_points
            ]
            if not talking_points:
                del self.fields["talking_points"]
        if consent_help:
            self.fields["keep_updated"].help_text = escape(consent_help)
        if campaign.clerk_mode == Campaign.ClerkMode.OFF:
            del self.fields["publish"]
        # No field cuts what is typed (a maxlength attribute would, without a word): each
        # limit is checked here, and its error says it.
        for field in self.fields.values():
            field.widget.attrs.pop("maxlength", None)

    def _clean_name(self, name: str) -> str:
        value = strip_format_characters(self.cleaned_data[name])
        if not value:
            raise ValidationError(self.fields[name].error_messages["required"], code="required")
        validate_person_name(value)
        return value

    def clean_first_name(self):
        return self._clean_name("first_name")

    def clean_last_name(self):
        return self._clean_name("last_name")

    def clean_street_address(self):
        value = strip_format_characters(self.cleaned_data["street_address"])
        validate_street_address(value)
        return value

    def clean(self):
        cleaned = super().clean()
        if (
            "recipients" in self.fields
            and not cleaned.get("recipients")
            and not self.has_error("recipients")
        ):
            self.add_error("recipients", _("Choose at least one recipient."))
        return cleaned

    @property
    def honeypot_filled(self) -> bool:
        return bool((self.cleaned_data or {}).get("website"))


class ReplyForm(forms.Form):
    """What a writer reports about one recipient, answering "Did council reply?"."""

    outcome = forms.ChoiceField(
        label=_("Did they reply?"),
        choices=[],
        widget=forms.RadioSelect,
        error_messages={"required": _("Choose an answer.")},
    )
    replied_on = forms.DateField(
        label=_("When did they reply? (optional)"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    summary = forms.CharField(
        label=_("Their answer, pasted or summed up (optional)"),
        max_length=2000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
    )
    may_publish = forms.BooleanField(
        label=_("It may be shown publicly, without my name"), required=False
    )

    def __init__(self, *args, outcomes, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["outcome"].choices = outcomes

    def clean(self):
        cleaned = super().clean()
        replied_on = cleaned.get("replied_on")
        if replied_on and replied_on > timezone.localdate():
            self.add_error("replied_on", _("Enter a date that has passed."))
        return cleaned


class ContactReportForm(forms.Form):
    """ "Wrong or outdated contact?": what is wrong with one representative's entry. Asks
    nothing about the person reporting."""

    problem = forms.ChoiceField(
        label=_("What is wrong?"),
        choices=ContactReport.Problem.choices,
        widget=forms.RadioSelect,
    )
    details = forms.CharField(
        label=_("The correct information, if you know it (optional)"),
        max_length=ContactReport.DETAILS_MAX,
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_(
            "For example the new councillor's name or the right email address. Please do not "
            "write anything about yourself."
        ),
    )
    # Honeypot, as on the letter form.
    website = forms.CharField(
        label=_("Leave this field empty"),
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "off", "tabindex": "-1"}),
    )

    def clean_details(self):
        return strip_format_characters(self.cleaned_data["details"]).strip()

    @property
    def honeypot_filled(self) -> bool:
        return bool((self.cleaned_data or {}).get("website"))
