# ruff: noqa: F811  (pytest fixtures imported from journey_helpers)
"""Writing in one's own words: the campaign's prompts, and the personal part inside the letter
(after its opening, before what it asks) in every place the letter shows or goes."""

import re
from html import unescape

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.utils import translation

from campaigns.models import (
    LETTER_PLACEHOLDERS,
    Campaign,
    CampaignPrompt,
    split_at_personal_part,
    validate_letter_template,
)
from campaigns.services import SEED_DIR, campaign_load_seed
from letters import services
from letters.composition import Sender, compose_letter
from letters.models import Letter
from tests.factories import RepresentativeFactory, TalkingPointFactory
from tests.letters.journey_helpers import (  # noqa: F401
    campaign,
    choose_council,
    council,
    fill_letter,
    journey_settings,
    letter_data,
    write_and_send,
)

pytestmark = pytest.mark.django_db

TEMPLATE = (
    "{salutation},\n\nMy name is {sender_name} and I live in {municipality}.\n\n"
    "{personal_part}\n\nI ask council to:\n\n1. Ban facial recognition."
)
TEMPLATE_FR = (
    "{salutation},\n\nJe m'appelle {sender_name} et j'habite à {municipality}.\n\n"
    "{personal_part}\n\nJe demande au conseil :\n\n1. D'interdire la reconnaissance faciale."
)
STORY = "My daughter walks past the new cameras at the library every day."


@pytest.fixture
def asks(campaign):
    campaign.letter_template_en = TEMPLATE
    campaign.letter_template_fr = TEMPLATE_FR
    campaign.save()
    return campaign


def everyone(council) -> list[str]:
    return [str(rep.pk) for rep in council["emailable"]]


def in_order(text: str, *pieces: str) -> bool:
    positions = [text.find(piece) for piece in pieces]
    return -1 not in positions and positions == sorted(positions)


def compose(campaign, council, language="en", **kwargs):
    with translation.override(language):
        return compose_letter(
            campaign=campaign,
            municipality=council["municipality"],
            recipients=council["emailable"],
            sender=Sender("Jane", "Doe", "K1A 0B1"),
            language=language,
            **kwargs,
        )


# --- Where the personal part goes ------------------------------------------------------------


def test_the_placeholder_is_documented_and_allowed():
    assert "personal_part" in LETTER_PLACEHOLDERS
    validate_letter_template(TEMPLATE)
    assert "{personal_part}" in str(Campaign._meta.get_field("letter_template").help_text)


def test_it_goes_where_the_placeholder_stands(asks, council):
    composed = compose(asks, council, personal_message=STORY, talking_points=[asks.point])
    assert in_order(
        composed.body,
        "Dear Mayor and Council,",
        "My name is Jane Doe and I live in Ottawa.",
        STORY,
        "I ask council to:",
        "Four U.S. cities ban it.",
        "Sincerely,",
    )
    assert "{personal_part}" not in composed.body
    assert f"Ottawa.\n\n{STORY}\n\nI ask council to:" in composed.body


def test_without_a_personal_part_the_placeholder_leaves_no_gap(asks, council):
    body = compose(asks, council).body
    assert "{personal_part}" not in body
    assert "Ottawa.\n\nI ask council to:" in body
    assert "\n\n\n" not in body


def test_without_the_placeholder_it_goes_after_the_opening_paragraph(asks, council):
    asks.letter_template_en = TEMPLATE.replace("{personal_part}\n\n", "")
    body = compose(asks, council, personal_message=STORY).body
    assert f"I live in Ottawa.\n\n{STORY}\n\nI ask council to:" in body
    assert body.startswith("Dear Mayor and Council,\n\nMy name is")


def test_the_opening_is_the_first_paragraph_when_there_is_no_greeting_line():
    assert split_at_personal_part("I write as a resident.\n\nPlease act.") == (
        "I write as a resident.",
        "Please act.",
    )
    assert split_at_personal_part("Dear council,\n\nI write.\n\nPlease act.") == (
        "Dear council,\n\nI write.",
        "Please act.",
    )
    assert split_at_personal_part("One paragraph only.") == ("One paragraph only.", "")


def test_a_second_placeholder_is_dropped():
    assert split_at_personal_part("A\n\n{personal_part}\n\nB {personal_part}") == ("A", "B")


def test_the_residents_words_are_never_formatted(asks, council):
    body = compose(asks, council, personal_message="{municipality} {personal_part} {0}").body
    assert "Ottawa.\n\n{municipality} {personal_part} {0}\n\nI ask council to:" in body


def test_a_locked_letter_has_no_personal_part_and_no_placeholder(asks, council):
    asks.editing_mode = Campaign.EditingMode.LOCKED
    body = compose(asks, council, personal_message=STORY).body
    assert STORY not in body and "{personal_part}" not in body


def test_a_fully_editable_letter_keeps_the_placeholder_for_the_resident(asks, council):
    asks.editing_mode = Campaign.EditingMode.EDITABLE
    body = compose(
        asks,
        council,
        personal_message=STORY,
        template_part="Hello council.\n\n{personal_part}\n\nPlease ban it.",
    ).body
    assert body.startswith(f"Hello council.\n\n{STORY}\n\nPlease ban it.")


def test_french_letters_place_it_the_same_way(asks, council):
    body = compose(asks, council, "fr", personal_message="Ma fille passe devant.").body
    assert "j'habite à Ottawa.\n\nMa fille passe devant.\n\nJe demande au conseil :" in body


def test_the_seed_puts_the_personal_part_after_the_introduction(db):
    campaign, _created = campaign_load_seed(path=SEED_DIR / "say-no-to-facial-recognition.json")
    for language in ("en", "fr"):
        template = getattr(campaign, f"letter_template_{language}")
        before, after = split_at_personal_part(template)
        assert template.count("{personal_part}") == 1
        assert "{sender_name}" in before
        assert ("I am respectfully asking" if language == "en" else "Je demande") in after
    assert campaign.prompts.count() == 3
    assert all(prompt.text_fr for prompt in campaign.prompts.all())


def test_the_campaign_page_shows_where_the_own_words_go(client, asks, council):
    html = client.get(f"/campaigns/{asks.slug}/").content.decode()
    assert in_order(html, "I live in [your municipality].", "[your own words]", "I ask council")
    assert "{personal_part}" not in html


# --- Every channel carries the same letter -----------------------------------------------------


def sheet(html: str) -> str:
    """The text of the first letter sheet on a page."""
    match = re.search(r'class="letter-sheet[^"]*"[^>]*>(.*?)</div>', html, re.DOTALL)
    return match.group(1) if match else ""


def test_the_resident_sees_and_the_council_receives_the_same_placement(
    client, asks, council, journey_settings, django_capture_on_commit_callbacks
):
    asks.requires_confirmation = False
    asks.save()
    choose_council(client, asks)
    fill_letter(client, asks, letter_data(personal_message=STORY, recipients=everyone(council)))
    preview = client.get(f"/campaigns/{asks.slug}/preview/").content.decode()
    assert in_order(sheet(preview), "I live in Ottawa.", STORY, "I ask council to:")
    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/campaigns/{asks.slug}/preview/")
    letter = Letter.objects.get()
    assert in_order(letter.body, "I live in Ottawa.", STORY, "I ask council to:")
    assert letter.personal_message == STORY
    # Each councillor's email and the resident's copy, text and HTML.
    assert len(mail.outbox) == 4
    for message in mail.outbox:
        assert in_order(message.body, "I live in Ottawa.", STORY, "I ask council to:")
        html = message.alternatives[0][0]
        assert in_order(html, "I live in Ottawa.", STORY, "I ask council to:")
    status = client.get(f"/letters/{letter.token}/").content.decode()
    assert in_order(sheet(status), "I live in Ottawa.", STORY, "I ask council to:")


def test_the_organizers_preview_and_test_letter_place_the_stand_in_there_too(
    client, staff_user, asks, council, django_capture_on_commit_callbacks
):
    staff_user.email = "organizer@example.org"
    staff_user.save()
    client.force_login(staff_user)
    url = f"/admin/letters/letter/preview/{asks.pk}/"
    query = {"municipality": council["municipality"].pk, "language": "en"}
    stand_in = str(services.TEST_PERSONAL_MESSAGE)
    html = client.get(url, query).content.decode()
    assert in_order(html, "I live in Ottawa.", stand_in.replace("'", "&#x27;"), "I ask council")
    with django_capture_on_commit_callbacks(execute=True):
        client.post(url + "?municipality={municipality}&language=en".format(**query))
    (message,) = mail.outbox
    assert message.to == ["organizer@example.org"]
    assert in_order(message.body, "I live in Ottawa.", stand_in, "I ask council to:")


# --- Prompts ---------------------------------------------------------------------------------


@pytest.fixture
def prompted(asks):
    asks.personal_prompt_en = "Why does this matter to you?"
    asks.personal_prompt_fr = "Pourquoi est-ce important pour vous ?"
    asks.save()
    CampaignPrompt.objects.create(
        campaign=asks,
        order=2,
        text_en="Where would cameras watch you?",
        text_fr="Où les caméras vous surveilleraient-elles ?",
    )
    CampaignPrompt.objects.create(
        campaign=asks,
        order=1,
        text_en="How would facial recognition affect your neighbourhood?",
        text_fr="Comment la reconnaissance faciale toucherait-elle votre quartier ?",
    )
    return asks


def personal_help(html: str) -> str:
    match = re.search(r'id="id_personal_message_helptext"[^>]*>(.*?)</div>', html, re.DOTALL)
    assert match, "the personal message has no help text"
    return match.group(1)


def test_the_prompts_show_under_the_personal_message_in_english(client, prompted, council):
    choose_council(client, prompted)
    html = client.get(f"/campaigns/{prompted.slug}/write/").content.decode()
    help_text = personal_help(html)
    assert in_order(
        help_text,
        "Why does this matter to you?",
        "You could answer one or more of these questions, or write freely:",
        "<li>How would facial recognition affect your neighbourhood?</li>",
        "<li>Where would cameras watch you?</li>",
    )
    # Tied to the field, so screen readers read the questions with it.
    assert re.search(r'<textarea[^>]*aria-describedby="[^"]*id_personal_message_helptext', html)


def test_the_prompts_show_in_french(client, prompted, council, french_catalog):
    # The sentence before the questions is French once the catalogue has it; the questions
    # are the campaign's own French.
    french_catalog(
        "You could answer one or more of these questions, or write freely:",
        "Vous pouvez répondre à une ou plusieurs de ces questions, ou écrire librement\u00a0:",
    )
    choose_council(client, prompted, prefix="/fr")
    help_text = personal_help(client.get(f"/fr/campaigns/{prompted.slug}/write/").content.decode())
    assert in_order(
        help_text,
        "Pourquoi est-ce important pour vous ?",
        "Vous pouvez répondre à une ou plusieurs de ces questions, ou écrire librement\u00a0:",
        "<li>Comment la reconnaissance faciale toucherait-elle votre quartier ?</li>",
        "<li>Où les caméras vous surveilleraient-elles ?</li>",
    )
    assert "Where would cameras watch you?" not in help_text


def test_prompts_are_escaped(client, asks, council):
    CampaignPrompt.objects.create(campaign=asks, text_en="<script>alert(1)</script>?")
    choose_council(client, asks)
    help_text = personal_help(client.get(f"/campaigns/{asks.slug}/write/").content.decode())
    assert "<script>" not in help_text and "&lt;script&gt;" in help_text


def test_answers_to_prompts_go_in_the_letter_and_the_questions_do_not(
    client, prompted, council, journey_settings
):
    choose_council(client, prompted)
    answer = "Three cameras went up on my street last spring."
    fill_letter(
        client, prompted, letter_data(personal_message=answer, recipients=everyone(council))
    )
    preview = sheet(client.get(f"/campaigns/{prompted.slug}/preview/").content.decode())
    assert in_order(preview, "I live in Ottawa.", answer, "I ask council to:")
    assert "Where would cameras watch you?" not in preview


def test_organizers_write_prompts_in_english_and_french_in_the_admin(staff_client, prompted):
    html = staff_client.get(f"/admin/campaigns/campaign/{prompted.pk}/change/").content.decode()
    assert 'name="prompts-0-text_en"' in html and 'name="prompts-0-text_fr"' in html
    assert 'name="prompts-MAX_NUM_FORMS" value="3"' in html


def test_a_change_to_a_prompt_shows_at_once(client, prompted, council):
    choose_council(client, prompted)
    url = f"/campaigns/{prompted.slug}/write/"
    assert "Where would cameras watch you?" in client.get(url).content.decode()
    prompt = prompted.prompts.get(order=2)
    prompt.text_en = "What do you see on your street?"
    prompt.save()
    html = client.get(url).content.decode()
    assert "What do you see on your street?" in html
    assert "Where would cameras watch you?" not in html


# --- The letter step shows the letter around the personal message ----------------------------


def test_the_letter_step_carries_the_letter_around_the_personal_message(client, asks, council):
    choose_council(client, asks)
    html = client.get(f"/campaigns/{asks.slug}/write/").content.decode()
    assert "data-live-letter" in html and "js/letter-preview.js" in html
    section = html.partition("data-live-sheet")[2].partition("</section>")[0]
    # Hidden until the script shows it; without JavaScript the next step is the preview.
    assert re.search(r"aria-labelledby=\"live-letter-heading\"\s+hidden>", html)
    assert in_order(section, "I live in Ottawa.", "data-personal-slot", "[your own words]", "I ask")


def test_the_live_letter_marks_where_the_name_and_street_address_go(client, asks, council):
    choose_council(client, asks)
    html = client.get(f"/campaigns/{asks.slug}/write/").content.decode()
    section = html.partition("data-live-sheet")[2].partition("</section>")[0]
    # Nothing typed yet: the name's hint in the text and the signature, no street line.
    slots = re.findall(r'<span data-sender-slot="(\w+)">([^<]*)</span>', section)
    assert slots == [("name", "[your name]"), ("name", "[your name]"), ("street", "")]
    assert in_order(section, "My name is", "data-personal-slot", "Sincerely,", "K1A 0B1, Ottawa")
    assert "\x00" not in html

    # A form sent back with an error keeps what was typed, escaped, in the same places.
    typed = letter_data(
        first_name="Jane <b>", last_name="Doe", street_address="12  Main St", email="not-an-email"
    )
    html = fill_letter(client, asks, typed).content.decode()
    section = html.partition("data-live-sheet")[2].partition("</section>")[0]
    slots = re.findall(r'<span data-sender-slot="(\w+)">([^<]*)</span>', section)
    assert slots == [
        ("name", "Jane &lt;b&gt; Doe"),
        ("name", "Jane &lt;b&gt; Doe"),
        ("street", "12 Main St\n"),
    ]
    assert "<b>" not in section

    # A name with the markers' own characters in it stays text, without the NUL (the form
    # refuses it; the field keeps what was typed, as every field does).
    html = fill_letter(
        client, asks, letter_data(first_name="\x00first\x00", email="not-an-email")
    ).content.decode()
    section = html.partition("data-live-sheet")[2].partition("</section>")[0]
    assert "\x00" not in section
    assert re.findall(r'<span data-sender-slot="(\w+)">([^<]*)</span>', section)[0] == (
        "name",
        "first Doe",
    )


def live_sheet(client, campaign, choices=None):
    return client.get(f"/campaigns/{campaign.slug}/write/live-letter/", choices or {})


def test_the_live_letter_follows_the_recipients_and_talking_points_ticked(client, asks, council):
    choose_council(client, asks)
    page = client.get(f"/campaigns/{asks.slug}/write/").content.decode()
    assert 'data-live-url="/campaigns/cams/write/live-letter/"' in page
    assert "Dear Mayor and Council," in page.partition("data-live-sheet")[2]

    # One councillor ticked, and the talking point: the letter the preview will show, with
    # the hints where the resident's words go (the page fills those in).
    response = live_sheet(
        client, asks, {"recipients": [council["first"].pk], "talking_points": [asks.point.pk]}
    )
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"] and "private" in response["Cache-Control"]
    html = unescape(response.content.decode())
    with translation.override("en"):
        expected = compose_letter(
            campaign=asks,
            municipality=council["municipality"],
            recipients=[council["first"]],
            sender=Sender("", "", "K1A 0B1"),
            language="en",
            talking_points=[asks.point],
        )
    greeting = expected.body.partition(",")[0]
    assert greeting != "Dear Mayor and Council" and greeting in html
    assert in_order(html, greeting, "data-personal-slot", "[your own words]", "Four U.S. cities")
    assert "[1] Berkeley bans it" in html
    # The point's line is marked, for the page to bring it into view.
    assert (
        f'<span class="live-point" data-point="{asks.point.pk}">- Four U.S. cities ban it. [1]</span>'
        in html
    )
    assert re.findall(r'<span data-sender-slot="(\w+)">([^<]*)</span>', html)[0] == (
        "name",
        "[your name]",
    )

    # Nothing ticked is a draft's "everyone", and no point.
    html = unescape(live_sheet(client, asks).content.decode())
    assert "Dear Mayor and Council," in html and "Four U.S. cities" not in html

    # In French, from the French page's address.
    page = client.get(f"/fr/campaigns/{asks.slug}/write/").content.decode()
    assert 'data-live-url="/fr/campaigns/cams/write/live-letter/"' in page
    html = unescape(
        client.get(
            f"/fr/campaigns/{asks.slug}/write/live-letter/", {"talking_points": [asks.point.pk]}
        ).content.decode()
    )
    assert in_order(html, "j'habite à Ottawa", "Quatre villes américaines")


def test_the_live_letter_carries_no_typed_words_and_only_this_councils_choices(
    client, asks, council, campaign
):
    choose_council(client, asks)
    fill_letter(client, asks, letter_data(first_name="Jane", personal_message=STORY, email="x"))
    other = RepresentativeFactory(name="Olga Elsewhere", email="olga@elsewhere.example.org")
    other_point = TalkingPointFactory(text_en="Not this campaign's point.")
    html = unescape(
        live_sheet(
            client,
            asks,
            {
                "recipients": [other.pk, "1; DROP TABLE", "x" * 5000],
                "talking_points": [other_point.pk, "-1"],
                "first_name": "Mallory",
                "personal_message": "injected",
            },
        ).content.decode()
    )
    # What the resident typed stays in their page; other councils' and campaigns' ids count
    # for nothing (everyone is greeted, as in a draft); other fields are ignored.
    assert STORY not in html and "Jane" not in html
    assert "Mallory" not in html and "injected" not in html
    assert "Olga" not in html and "Not this campaign" not in html
    assert "Dear Mayor and Council," in html


def test_the_live_letter_needs_the_residents_own_council_and_an_open_campaign(
    client, asks, council
):
    # A stranger with no council chosen in their own session gets nothing.
    assert live_sheet(client, asks).status_code == 404
    choose_council(client, asks)
    assert live_sheet(client, asks).status_code == 200
    assert client.post(f"/campaigns/{asks.slug}/write/live-letter/").status_code == 405
    # Far too many ids is refused before anything is composed.
    query = "&".join(f"recipients={n}" for n in range(2000))
    assert client.get(f"/campaigns/{asks.slug}/write/live-letter/?{query}").status_code == 400
    asks.editing_mode = Campaign.EditingMode.LOCKED
    asks.save()
    assert live_sheet(client, asks).status_code == 404
    asks.editing_mode = Campaign.EditingMode.PERSONAL
    asks.status = Campaign.Status.CLOSED
    asks.save()
    assert live_sheet(client, asks).status_code == 404


def test_a_locked_letter_step_has_no_live_letter(client, asks, council):
    asks.editing_mode = Campaign.EditingMode.LOCKED
    asks.save()
    choose_council(client, asks)
    html = client.get(f"/campaigns/{asks.slug}/write/").content.decode()
    assert "data-live-letter" not in html and "letter-preview.js" not in html


def test_a_subject_cannot_hold_the_personal_part(asks):
    asks.letter_subjects_en = "About {personal_part}"
    with pytest.raises(ValidationError) as raised:
        asks.full_clean()
    assert "letter_subjects_en" in raised.value.message_dict
