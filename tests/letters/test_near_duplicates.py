# ruff: noqa: F811  (pytest fixtures imported from journey_helpers)
"""The kind near-duplicate warning: it fires on a copy (light edits included), never on a
resident's own story, never on a short message, and never blocks Send. Organizers' figures."""

import csv
import io
import re

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from letters import erasure, near_duplicates, services
from letters.models import Letter, PersonalPartBand
from letters.selectors import personal_part_counts, personal_part_near_duplicate
from tests.factories import MunicipalityFactory, RepresentativeFactory
from tests.letters.journey_helpers import (  # noqa: F401
    campaign,
    choose_council,
    council,
    fill_letter,
    journey_settings,
    letter_data,
)

pytestmark = pytest.mark.django_db

ORIGINAL = (
    "As a parent in this city I do not want cameras that recognise faces outside my "
    "children's school. We moved here because it felt safe and free."
)
# The same, lightly edited: case, punctuation and one word changed.
LIGHT_EDIT = (
    "as a PARENT in this city, I do not want cameras that recognize faces outside my "
    "children's school! We moved here because it felt safe and open."
)
# Another resident's own story on the same subject.
OWN_STORY = (
    "I work nights at the hospital and take the bus home through the market. I worry that "
    "cameras would log every trip I make, and that a mistake would follow me for years."
)
WARNING = "Your personal message is much like others"


@pytest.fixture
def open_campaign(campaign, journey_settings):
    campaign.requires_confirmation = False
    campaign.save()
    return campaign


def sent(campaign, council, message, *, email, recipients=None, **overrides) -> Letter:
    recipients = council["emailable"] if recipients is None else recipients
    return services.letter_submit(
        campaign=campaign,
        municipality=council["municipality"],
        representative_ids=[rep.pk for rep in recipients],
        first_name="Res",
        last_name="Ident",
        email=email,
        postal_code="K1A 0B1",
        language="en",
        personal_message=message,
        ip="",
        **overrides,
    )


def flood(campaign, council, message, *, copies=None, recipients=None, **overrides) -> list:
    """As many letters with this message as it takes to warn (LETTERS_NEAR_COPIES_TO_WARN)."""
    copies = settings.LETTERS_NEAR_COPIES_TO_WARN if copies is None else copies
    return [
        sent(campaign, council, message, email=f"flood{n}@example.org", recipients=recipients)
        for n in range(copies)
    ]


def check(council, message, recipients=None) -> bool:
    recipients = council["emailable"] if recipients is None else recipients
    return personal_part_near_duplicate(
        fingerprint=near_duplicates.fingerprint(message),
        municipality_id=council["municipality"].pk,
        representative_ids=[rep.pk for rep in recipients],
    )


# --- The measure -----------------------------------------------------------------------------


def test_case_accents_and_punctuation_do_not_matter():
    assert near_duplicates.words("Montréal, MONTREAL! montreal.") == ["montreal"] * 3
    first = near_duplicates.fingerprint(ORIGINAL)
    assert first == near_duplicates.fingerprint(ORIGINAL.upper().replace(".", "!"))


def test_a_light_edit_stays_above_the_threshold_and_a_story_far_below():
    original = near_duplicates.fingerprint(ORIGINAL).signature
    edited = near_duplicates.fingerprint(LIGHT_EDIT).signature
    story = near_duplicates.fingerprint(OWN_STORY).signature
    assert near_duplicates.similarity(original, edited) >= near_duplicates.SIMILARITY
    assert near_duplicates.similarity(original, story) < 0.2


def test_short_or_empty_messages_have_no_fingerprint():
    assert near_duplicates.fingerprint("") is None
    assert near_duplicates.fingerprint("I agree with this letter completely.") is None


def test_a_fingerprint_is_the_same_from_one_run_to_the_next():
    # Stored signatures must keep comparing with new ones: no per-process hash seed.
    fingerprint = near_duplicates.fingerprint(ORIGINAL)
    assert len(fingerprint.signature) == near_duplicates.SIGNATURE_SIZE
    assert len(fingerprint.band_keys) == near_duplicates.BANDS
    assert fingerprint.band_keys == near_duplicates.band_keys(fingerprint.signature)
    assert all(-(2**63) <= key < 2**63 for key in fingerprint.band_keys)


# --- What Send stores, and the check -------------------------------------------------------


def test_send_stores_the_signature_and_band_keys(open_campaign, council):
    letter = sent(open_campaign, council, ORIGINAL, email="a@example.org")
    assert letter.has_personal_part and not letter.personal_near_duplicate
    fingerprint = near_duplicates.fingerprint(ORIGINAL)
    assert letter.personal_signature == fingerprint.signature
    assert sorted(letter.personal_bands.values_list("key", flat=True)) == sorted(
        fingerprint.band_keys
    )


def test_it_fires_on_a_copy_and_a_light_edit(open_campaign, council):
    flood(open_campaign, council, ORIGINAL)
    assert check(council, ORIGINAL)
    assert check(council, LIGHT_EDIT)
    copy = sent(open_campaign, council, LIGHT_EDIT, email="b@example.org")
    assert copy.personal_near_duplicate


def test_it_does_not_fire_on_a_real_personal_story(open_campaign, council):
    flood(open_campaign, council, ORIGINAL)
    assert not check(council, OWN_STORY)
    story = sent(open_campaign, council, OWN_STORY, email="b@example.org")
    assert story.has_personal_part and not story.personal_near_duplicate


def test_short_messages_never_warn(open_campaign, council):
    sent(open_campaign, council, "I agree with this.", email="a@example.org")
    assert not check(council, "I agree with this.")
    assert not sent(open_campaign, council, "", email="b@example.org").has_personal_part


def test_only_letters_sent_to_the_same_councillors_count(open_campaign, council):
    flood(open_campaign, council, ORIGINAL, recipients=[council["first"]])
    assert check(council, ORIGINAL, recipients=[council["first"], council["mayor"]])
    assert not check(council, ORIGINAL, recipients=[council["second"]])
    elsewhere = MunicipalityFactory(name="Gatineau", province="QC")
    RepresentativeFactory(municipality=elsewhere, email="mayor@gatineau.example.org")
    assert not personal_part_near_duplicate(
        fingerprint=near_duplicates.fingerprint(ORIGINAL),
        municipality_id=elsewhere.pk,
        representative_ids=list(elsewhere.representatives.values_list("pk", flat=True)),
    )


def test_unconfirmed_and_test_letters_do_not_count(campaign, council, journey_settings):
    pending = sent(campaign, council, ORIGINAL, email="a@example.org")
    assert pending.status == Letter.Status.PENDING_CONFIRMATION
    sent(campaign, council, ORIGINAL, email="b@example.org", is_test=True)
    assert not check(council, ORIGINAL)


def test_a_flood_warns_and_one_or_two_letters_do_not(open_campaign, council):
    for n in range(settings.LETTERS_NEAR_COPIES_TO_WARN):
        assert not check(council, LIGHT_EDIT), n
        sent(open_campaign, council, ORIGINAL, email=f"writer{n}@example.org")
    assert check(council, LIGHT_EDIT)


def test_a_stranger_cannot_learn_whether_someones_words_reached_the_council(
    client, open_campaign, council
):
    # A resident's own letter, confirmed and sent. A stranger who knows (or guesses) its words
    # types them in: the check must not tell them this text reached the council.
    sent(open_campaign, council, ORIGINAL, email="neighbour@example.org")
    assert not check(council, ORIGINAL)
    assert WARNING not in preview_for(client, open_campaign, council, ORIGINAL)


def test_erasure_removes_the_fingerprint_and_keeps_the_figures(open_campaign, council):
    flood(open_campaign, council, ORIGINAL)
    copy = sent(open_campaign, council, ORIGINAL, email="b@example.org")
    erasure.letters_erase([copy.pk], now=timezone.now())
    copy.refresh_from_db()
    assert copy.personal_signature == [] and copy.personal_message == ""
    assert not PersonalPartBand.objects.filter(letter=copy).exists()
    assert copy.has_personal_part and copy.personal_near_duplicate


# --- The warning on the preview: kind, never a block -----------------------------------------


def everyone(council) -> list[str]:
    return [str(rep.pk) for rep in council["emailable"]]


def preview_for(client, campaign, council, message) -> str:
    choose_council(client, campaign)
    fill_letter(
        client, campaign, letter_data(personal_message=message, recipients=everyone(council))
    )
    return client.get(f"/campaigns/{campaign.slug}/preview/").content.decode()


def test_the_preview_says_so_kindly_and_suggests_a_detail(client, open_campaign, council):
    flood(open_campaign, council, ORIGINAL)
    html = preview_for(client, open_campaign, council, LIGHT_EDIT)
    assert WARNING in html
    assert "Could you add a detail of your own" in html
    assert f'href="/campaigns/{open_campaign.slug}/write/#id_personal_message"' in html
    assert "You can also send your letter as it is." in html
    # Before the Send button.
    assert html.index(WARNING) < html.index(">Send</button>")


def test_the_resident_can_send_anyway(
    client, open_campaign, council, django_capture_on_commit_callbacks
):
    flood(open_campaign, council, ORIGINAL)
    preview_for(client, open_campaign, council, ORIGINAL)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/campaigns/{open_campaign.slug}/preview/")
    assert response.status_code == 302
    letter = Letter.objects.get(email="jane@example.org")
    assert letter.status == Letter.Status.CONFIRMED and letter.personal_near_duplicate


def test_no_warning_for_a_personal_story(client, open_campaign, council):
    flood(open_campaign, council, ORIGINAL)
    assert WARNING not in preview_for(client, open_campaign, council, OWN_STORY)


def test_the_warning_in_french(client, open_campaign, council, french_catalog):
    french_catalog(
        "Your personal message is much like others",
        "Votre message personnel ressemble beaucoup à d'autres",
    )
    flood(open_campaign, council, ORIGINAL)
    choose_council(client, open_campaign, prefix="/fr")
    fill_letter(
        client,
        open_campaign,
        letter_data(personal_message=ORIGINAL, recipients=everyone(council)),
        prefix="/fr",
    )
    html = client.get(f"/fr/campaigns/{open_campaign.slug}/preview/").content.decode()
    assert "Votre message personnel ressemble beaucoup à d'autres" in html


# --- Organizers' figures -----------------------------------------------------------------------


def test_the_figures_per_council_add_up(open_campaign, council, staff_client):
    # Three letters alike (none warned: no flood before them), then two near copies (warned).
    flood(open_campaign, council, ORIGINAL, copies=3)
    sent(open_campaign, council, LIGHT_EDIT, email="b@example.org")
    sent(open_campaign, council, ORIGINAL, email="c@example.org")
    sent(open_campaign, council, OWN_STORY, email="d@example.org")
    sent(open_campaign, council, "", email="e@example.org")
    sent(open_campaign, council, ORIGINAL, email="f@example.org", is_test=True)
    elsewhere = MunicipalityFactory(name="Gatineau", province="QC")
    rep = RepresentativeFactory(municipality=elsewhere, email="mayor@gatineau.example.org")
    services.letter_submit(
        campaign=open_campaign,
        municipality=elsewhere,
        representative_ids=[rep.pk],
        first_name="G",
        last_name="H",
        email="g@example.org",
        postal_code="J8X 1A1",
        language="fr",
        personal_message=ORIGINAL,
        ip="",
    )
    rows = {row["name"]: row for row in personal_part_counts(campaign=open_campaign)}
    figures = ("municipality_id", "name", "letters", "personal", "near_identical", "share")
    assert {key: rows["Ottawa"][key] for key in figures} == {
        "municipality_id": council["municipality"].pk,
        "name": "Ottawa",
        "letters": 7,
        "personal": 6,
        "near_identical": 2,
        "share": 86,
    }
    assert (rows["Gatineau"]["letters"], rows["Gatineau"]["near_identical"]) == (1, 0)
    counted = Letter.objects.counted().filter(campaign=open_campaign)
    assert sum(row["letters"] for row in rows.values()) == counted.count()
    assert sum(row["personal"] for row in rows.values()) == (
        counted.exclude(personal_message="").count()
    )

    url = reverse("admin:letters_counts", args=[open_campaign.pk])
    html = staff_client.get(url).content.decode()
    section = html.partition('id="own-words"')[2].partition("</section>")[0]
    assert "own words</h2>" in html
    ottawa = section.partition('<th scope="row">Ottawa</th>')[2].partition("</tr>")[0]
    assert _cells(ottawa) == ["7", "6", "86&nbsp;%", "2"]
    total = section.partition("<tfoot>")[2].partition("</tfoot>")[0]
    assert _cells(total) == ["8", "7", "88&nbsp;%", "2"]

    # The counts download by municipality carries the same figures.
    download = staff_client.get(
        reverse("admin:letters_counts_csv", args=[open_campaign.pk]),
        {"by": "municipality"},
    )
    csv_rows = list(csv.reader(io.StringIO(download.getvalue().decode("utf-8-sig"))))
    assert csv_rows[0][3:] == [
        "Letters",
        "With a personal part",
        "Nearly identical personal parts",
        "Deliveries sent",
    ]
    by_name = {row[1]: row[3:6] for row in csv_rows[1:]}
    assert by_name == {"Ottawa": ["7", "6", "2"], "Gatineau": ["1", "1", "0"]}


def _cells(html: str) -> list[str]:
    return re.findall(r'<td class="number">([^<]*)</td>', html)
