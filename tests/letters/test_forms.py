# ruff: noqa: F811  (pytest fixtures imported from journey_helpers)
"""The letter form's fields follow the campaign, and refuse what would break an email."""

import unicodedata

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from campaigns.models import Campaign
from letters.forms import LetterForm, MunicipalityForm, PostalCodeForm
from tests.factories import RepresentativeFactory
from tests.letters.journey_helpers import campaign, council  # noqa: F401

pytestmark = pytest.mark.django_db


def make_form(campaign, council, data=None):
    return LetterForm(
        data,
        campaign=campaign,
        representatives=council["emailable"] + [council["no_email"]],
        talking_points=[(campaign.point, 1)],
    )


def valid_data(council, **overrides):
    data = {
        "recipients": [str(council["mayor"].pk)],
        "first_name": "Jane",
        "last_name": "Doe",
        "email": "jane@example.org",
    }
    data.update(overrides)
    return data


def test_it_normalises_postal_codes():
    form = PostalCodeForm({"postal_code": " k1a0b1 "})
    assert form.is_valid()
    assert form.cleaned_data["postal_code"] == "K1A 0B1"


def test_it_rejects_a_non_canadian_postal_code():
    form = PostalCodeForm({"postal_code": "90210"})
    assert not form.is_valid()
    assert "postal_code" in form.errors


def test_the_picker_returns_municipality_and_ward():
    form = MunicipalityForm({"municipality": "3:7"}, groups=[(None, [("3:7", "Town: Ward 7")])])
    assert form.is_valid()
    assert form.cleaned_data["municipality"] == (3, 7)


def test_the_picker_uses_radio_buttons_for_five_choices_or_fewer():
    five = [(str(pk), f"Town {pk}") for pk in range(1, 6)]
    form = MunicipalityForm(groups=[("Suggested", five)])
    assert form.fields["municipality"].widget.input_type == "radio"
    assert form.fields["municipality"].choices == five


def test_the_picker_uses_a_grouped_select_for_more_than_five():
    suggested = [("1", "Ottawa")]
    rest = [(str(pk), f"Town {pk}") for pk in range(2, 7)]
    form = MunicipalityForm(groups=[("Suggested", suggested), ("Ontario", rest)])
    field = form.fields["municipality"]
    assert field.widget.input_type == "select"
    assert field.choices == [
        ("", "Choose your municipality"),
        ("Suggested", suggested),
        ("Ontario", rest),
    ]


def test_the_picker_accepts_a_pick_it_can_offer_off_screen():
    groups = [(None, [("1", "Ottawa")])]
    form = MunicipalityForm({"municipality": "2"}, groups=groups, offered=lambda v: v == "2")
    assert form.is_valid()
    refused = MunicipalityForm({"municipality": "3"}, groups=groups, offered=lambda v: v == "2")
    assert not refused.is_valid()


def test_all_recipients_with_email_start_ticked(campaign, council):
    form = make_form(campaign, council)
    assert form.initial["recipients"] == [rep.pk for rep in council["emailable"]]
    offered = [value for value, _label in form.fields["recipients"].choices]
    assert council["no_email"].pk not in offered


def test_a_bouncing_address_is_not_offered(campaign, council):
    council["first"].bounce_count = 99
    council["first"].save()
    form = make_form(campaign, council)
    offered = [value for value, _label in form.fields["recipients"].choices]
    assert council["first"].pk not in offered


def test_a_personal_campaign_has_no_subject_or_body_fields(campaign, council):
    form = make_form(campaign, council)
    assert "subject" not in form.fields and "body" not in form.fields
    assert "personal_message" in form.fields and "talking_points" in form.fields
    assert form.fields["personal_message"].help_text == campaign.personal_prompt


def test_a_locked_campaign_has_no_letter_fields(campaign, council):
    campaign.editing_mode = Campaign.EditingMode.LOCKED
    form = make_form(campaign, council, valid_data(council, personal_message="x", subject="y"))
    assert form.is_valid()
    assert {"subject", "body", "personal_message", "talking_points"}.isdisjoint(form.fields)
    assert "personal_message" not in form.cleaned_data


def test_an_editable_campaign_has_subject_and_body(campaign, council):
    campaign.editing_mode = Campaign.EditingMode.EDITABLE
    form = make_form(campaign, council)
    assert "subject" in form.fields and "body" in form.fields


def test_talking_points_name_their_source(campaign, council):
    form = make_form(campaign, council)
    [(_value, label)] = form.fields["talking_points"].choices
    assert label == "Four U.S. cities ban it. (source: Berkeley bans it)"


@pytest.mark.parametrize("field", ["first_name", "last_name", "street_address"])
def test_it_refuses_line_breaks_in_single_line_fields(campaign, council, field):
    form = make_form(campaign, council, valid_data(council, **{field: "A\nBcc: x@example.org"}))
    assert not form.is_valid()
    assert field in form.errors


REAL_NAMES = [
    ("O'Brien", "O’Brien"),
    ("Jean-François", "Côté-Lévesque"),
    ("Nguyễn", "Thị Minh Khai"),
    ("Guðrún", "Ólafsdóttir"),
    ("Siobhán", "Ní Bhriain"),
    ("J. R. R.", "St. John"),
    ("Zoë", "d'Arcy Jr."),
    ("María de los Ángeles", "García de la Fuente"),
    ("Saoirse-Ana", "Mac Giolla Phádraig"),
    ("Łukasz", "Wąsowski"),
    ("Kaʻiulani", "Kawānanakoa"),
    ("سارة", "العلي"),
    ("美咲", "山田"),
    ("Дмитрий", "Шостакович"),
]


@pytest.mark.parametrize(("first", "last"), REAL_NAMES)
def test_real_names_pass_unchanged(campaign, council, first, last):
    form = make_form(campaign, council, valid_data(council, first_name=first, last_name=last))
    assert form.is_valid(), form.errors
    assert (form.cleaned_data["first_name"], form.cleaned_data["last_name"]) == (first, last)


# Words of letters and combining accents (decomposed "é" as well as "é"), joined the ways
# names are: spaces, hyphens, apostrophes.
_WORD = st.text(
    st.characters(categories=("Lu", "Ll", "Lt", "Lm", "Lo", "Mn")), min_size=1, max_size=10
).filter(lambda word: not unicodedata.category(word[0]).startswith("M"))
_NAME = st.builds(
    lambda first, rest: first + "".join(sep + word for sep, word in rest),
    _WORD,
    st.lists(st.tuples(st.sampled_from([" ", "-", "'", "’"]), _WORD), max_size=3),
).filter(lambda name: len(name) <= 50)


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(first=_NAME, last=_NAME)
def test_names_of_letters_hyphens_and_apostrophes_always_pass(campaign, council, first, last):
    form = make_form(campaign, council, valid_data(council, first_name=first, last_name=last))
    assert form.is_valid(), form.errors
    assert form.cleaned_data["first_name"] == first
    assert form.cleaned_data["last_name"] == last


@pytest.mark.parametrize(
    ("value", "code"),
    [
        ("Mayor (Office of the Mayor)", "name_brackets"),
        ("<mayor@toronto.ca>", "name_brackets"),
        ("Mayor﹙Office﹚", "name_brackets"),  # small parentheses, NFKC "(" and ")"
        ('"The Mayor"', "name_quotes"),
        ("=?utf-8?b?TWF5b3I=?=", "encoded_word"),
        ("=\u2060?utf-8?b?TWF5b3I=?=", "encoded_word"),
    ],
)
def test_it_refuses_names_that_make_display_name_tricks(campaign, council, value, code):
    form = make_form(campaign, council, valid_data(council, last_name=value))
    assert not form.is_valid()
    assert form.has_error("last_name", code)


def test_it_removes_format_characters_from_names_and_street_address(campaign, council):
    data = valid_data(
        council, first_name="\u202eJane", last_name="D\u200doe", street_address="1\u200b Elm St"
    )
    form = make_form(campaign, council, data)
    assert form.is_valid(), form.errors
    assert form.cleaned_data["first_name"] == "Jane"
    assert form.cleaned_data["last_name"] == "Doe"
    assert form.cleaned_data["street_address"] == "1 Elm St"


def test_it_refuses_a_line_break_in_an_editable_subject(campaign, council):
    campaign.editing_mode = Campaign.EditingMode.EDITABLE
    data = valid_data(council, subject="Hi\r\nBcc: x@example.org", body="Text")
    form = make_form(campaign, council, data)
    assert not form.is_valid()
    assert "subject" in form.errors


def test_it_limits_the_personal_message(campaign, council):
    form = make_form(campaign, council, valid_data(council, personal_message="x" * 2001))
    assert not form.is_valid()
    assert form.errors["personal_message"] == [
        "Your personal message must be 2,000 characters or fewer. You have 1 character too many."
    ]
    assert "maxlength" not in form.fields["personal_message"].widget.attrs


def test_it_needs_one_recipient_when_some_have_email(campaign, council):
    form = make_form(campaign, council, valid_data(council, recipients=[]))
    assert not form.is_valid()
    assert form.errors["recipients"] == ["Choose at least one recipient."]


def test_a_council_without_email_needs_no_recipient(campaign, council):
    nobody = RepresentativeFactory(municipality=council["municipality"], email="")
    form = LetterForm(
        valid_data(council, recipients=[]),
        campaign=campaign,
        representatives=[nobody],
        talking_points=[],
    )
    assert form.is_valid(), form.errors
    assert "recipients" not in form.fields


def test_the_honeypot_is_noticed(campaign, council):
    form = make_form(campaign, council, valid_data(council, website="http://spam.example"))
    assert form.is_valid()
    assert form.honeypot_filled


def test_send_copy_is_on_and_updates_off_by_default(campaign, council):
    form = make_form(campaign, council)
    assert form.fields["send_copy"].initial is True
    assert form.fields["keep_updated"].initial is False


# --- Error messages say what to do -----------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"first_name": ""}, "first_name", "Enter your first name."),
        ({"last_name": ""}, "last_name", "Enter your last name."),
        ({"email": ""}, "email", "Enter your email address."),
        (
            {"email": "jane.example.org"},
            "email",
            "Enter an email address in the correct format, like name@example.com.",
        ),
        ({"first_name": "J" * 51}, "first_name", "Your first name must be 50 characters or fewer."),
        ({"last_name": "D" * 51}, "last_name", "Your last name must be 50 characters or fewer."),
        (
            {"street_address": "1" * 101},
            "street_address",
            "Your street address must be 100 characters or fewer.",
        ),
        (
            {"personal_message": "x" * 2100},
            "personal_message",
            (
                "Your personal message must be 2,000 characters or fewer. "
                "You have 100 characters too many."
            ),
        ),
        ({"recipients": []}, "recipients", "Choose at least one recipient."),
        ({"recipients": ["999999"]}, "recipients", "Choose recipients from this council only."),
        ({"talking_points": ["999999"]}, "talking_points", "Choose talking points from the list."),
    ],
)
def test_each_field_says_what_to_do(campaign, council, overrides, field, message):
    form = make_form(campaign, council, valid_data(council, **overrides))
    assert not form.is_valid()
    assert form.errors[field] == [message]


def test_an_editable_letter_says_its_limits(campaign, council):
    campaign.editing_mode = Campaign.EditingMode.EDITABLE
    form = make_form(campaign, council, valid_data(council, subject="", body="b" * 10_001))
    assert not form.is_valid()
    assert form.errors["subject"] == ["Enter a subject."]
    assert form.errors["body"] == [
        "Your letter must be 10,000 characters or fewer. You have 1 character too many."
    ]
    form = make_form(campaign, council, valid_data(council, subject="s" * 201, body=""))
    form.is_valid()
    assert form.errors["subject"] == ["The subject must be 200 characters or fewer."]
    assert form.errors["body"] == ["Enter the text of your letter."]


def test_no_field_cuts_what_is_typed(campaign, council):
    campaign.editing_mode = Campaign.EditingMode.EDITABLE
    form = make_form(campaign, council)
    assert not [name for name, field in form.fields.items() if "maxlength" in field.widget.attrs]
    assert "maxlength" not in PostalCodeForm().fields["postal_code"].widget.attrs


@pytest.mark.parametrize(
    ("postal_code", "message"),
    [("", "Enter your postal code."), ("12345", "Enter a postal code like K1A 0B1.")],
)
def test_the_postal_code_says_what_to_do(postal_code, message):
    form = PostalCodeForm({"postal_code": postal_code})
    assert form.errors["postal_code"] == [message]


def test_the_picker_says_what_to_do():
    groups = [(None, [("1", "Ottawa")])]
    form = MunicipalityForm({"municipality": ""}, groups=groups)
    assert form.errors["municipality"] == ["Choose your municipality."]
    form = MunicipalityForm({"municipality": "2"}, groups=groups)
    assert form.errors["municipality"] == ["Choose your municipality from the list."]


def test_length_errors_group_figures_in_french(campaign, council):
    from django.utils import translation

    with translation.override("fr"):
        form = make_form(campaign, council, valid_data(council, personal_message="x" * 3234))
        form.is_valid()
        (message,) = form.errors["personal_message"]
    # The figures follow French typography whatever the catalogue says around them.
    assert "2\xa0000" in message and "1\xa0234" in message
