from datetime import UTC, datetime, timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from campaigns.models import (
    Campaign,
    placeholder_names,
    render_letter_template,
    validate_letter_template,
)
from tests.factories import CampaignFactory, CitationFactory, TalkingPointFactory

pytestmark = pytest.mark.django_db


def test_it_accepts_known_placeholders():
    validate_letter_template("Dear {recipient_name}, {municipality} ({province}) {{literal}}")


def test_it_rejects_unknown_placeholders_naming_them():
    campaign = CampaignFactory.build(letter_template_en="Dear {mayor}, I live in {city}. {mayor}")
    with pytest.raises(ValidationError) as excinfo:
        campaign.full_clean()
    errors = excinfo.value.message_dict
    assert "letter_template_en" in errors
    message = errors["letter_template_en"][0]
    assert "{mayor}, {city}" in message
    assert "{municipality}" in message  # the allowed list helps the organizer fix it


def test_it_rejects_unknown_placeholders_in_french_subjects():
    campaign = CampaignFactory.build(letter_subjects_fr="Pour {ville}")
    with pytest.raises(ValidationError) as excinfo:
        campaign.full_clean()
    assert "{ville}" in excinfo.value.message_dict["letter_subjects_fr"][0]


def test_it_rejects_unbalanced_braces():
    with pytest.raises(ValidationError) as excinfo:
        validate_letter_template("Dear {recipient_name")
    assert "curly braces" in excinfo.value.messages[0]


def test_it_lists_placeholders_in_order():
    assert placeholder_names("{a} and {b} then {a}") == ["a", "b", "a"]


def test_it_renders_placeholders_and_leaves_unknown_ones_visible():
    text = render_letter_template(
        "Hi {recipient_name} of {municipality}", {"municipality": "Guelph"}
    )
    assert text == "Hi {recipient_name} of Guelph"


def test_it_rejects_unknown_target_roles():
    campaign = CampaignFactory.build(target_roles=["mayor", "king"])
    with pytest.raises(ValidationError) as excinfo:
        campaign.full_clean()
    assert "king" in excinfo.value.message_dict["target_roles"][0]


def test_it_rejects_a_close_time_before_the_open_time():
    now = timezone.now()
    campaign = CampaignFactory.build(opens_at=now, closes_at=now - timedelta(days=1))
    with pytest.raises(ValidationError) as excinfo:
        campaign.full_clean()
    assert "closes_at" in excinfo.value.message_dict


@pytest.mark.parametrize(
    ("status", "opens", "closes", "phase", "accepting"),
    [
        (Campaign.Status.DRAFT, None, None, "draft", False),
        (Campaign.Status.LIVE, None, None, "open", True),
        (Campaign.Status.LIVE, 1, None, "upcoming", False),
        (Campaign.Status.LIVE, None, -1, "closed", False),
        (Campaign.Status.LIVE, -2, 2, "open", True),
        (Campaign.Status.CLOSED, None, None, "closed", False),
    ],
)
def test_it_derives_its_phase_from_status_and_window(status, opens, closes, phase, accepting):
    now = timezone.now()
    campaign = CampaignFactory.build(
        status=status,
        opens_at=now + timedelta(days=opens) if opens is not None else None,
        closes_at=now + timedelta(days=closes) if closes is not None else None,
    )
    assert campaign.phase(now) == phase
    assert campaign.is_accepting_letters(now) is accepting


def test_subjects_are_one_per_line_in_the_active_language():
    from django.utils import translation

    campaign = CampaignFactory(letter_subjects_en="One\n\n  Two  \n", letter_subjects_fr="Un")
    assert campaign.subject_list() == ["One", "Two"]
    with translation.override("fr"):
        assert campaign.subject_list() == ["Un"]


def test_public_queryset_hides_drafts():
    live = CampaignFactory(status=Campaign.Status.LIVE)
    closed = CampaignFactory(status=Campaign.Status.CLOSED)
    CampaignFactory(status=Campaign.Status.DRAFT)
    assert set(Campaign.objects.public()) == {live, closed}
    assert list(Campaign.objects.live()) == [live]


def test_talking_point_citation_must_belong_to_the_same_campaign():
    point = TalkingPointFactory()
    point.citation = CitationFactory()  # another campaign's citation
    with pytest.raises(ValidationError) as excinfo:
        point.full_clean()
    assert "citation" in excinfo.value.message_dict


def test_edits_are_recorded_in_history(staff_user):
    campaign = CampaignFactory(title_en="Before")
    campaign.title_en = "After"
    campaign._history_user = staff_user
    campaign.save()
    latest = campaign.history.first()
    assert latest.title_en == "After"
    assert latest.history_user == staff_user
    assert campaign.history.count() == 2


# --- When a letter's personal data is erased (one rule for the purge and the privacy page) ---

START = datetime(2026, 1, 1, tzinfo=UTC)
moments = st.integers(min_value=0, max_value=4 * 365 * 24).map(
    lambda hours: START + timedelta(hours=hours)
)


def test_a_letter_is_erased_retention_days_after_the_later_of_its_writing_and_the_close():
    campaign = Campaign(retention_days=30, closes_at=datetime(2026, 6, 1, tzinfo=UTC))
    early = datetime(2026, 2, 1, tzinfo=UTC)
    assert campaign.personal_data_erased_at(early) == datetime(2026, 7, 1, tzinfo=UTC)
    late = datetime(2026, 6, 20, tzinfo=UTC)  # confirmed in a grace period, say
    assert campaign.personal_data_erased_at(late) == datetime(2026, 7, 20, tzinfo=UTC)
    campaign.closes_at = None
    assert campaign.personal_data_erased_at(early) == datetime(2026, 3, 3, tzinfo=UTC)


@hypothesis_settings(max_examples=300, deadline=None)
@given(
    written=moments,
    now=moments,
    closes=st.one_of(st.none(), moments),
    days=st.integers(min_value=1, max_value=800),
)
def test_the_purges_cutoff_is_the_inverse_of_the_erasure_date(written, now, closes, days):
    """letters_due_for_erasure_before (the purge's query) selects exactly the letters whose
    personal_data_erased_at (what the privacy page says) has come."""
    campaign = Campaign(retention_days=days, closes_at=closes)
    cutoff = campaign.letters_due_for_erasure_before(now)
    due = cutoff is not None and written <= cutoff
    assert due == (campaign.personal_data_erased_at(written) <= now)
