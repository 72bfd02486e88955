# ruff: noqa: F811  (pytest fixtures imported from journey_helpers)
"""Header injection: a line break in a name, subject or organizer copy never reaches a header."""

import pytest
from django.core import mail

from campaigns.models import Campaign
from letters.models import Letter
from letters.services import letter_confirm, letter_submit
from tests.letters.journey_helpers import (  # noqa: F401
    campaign,
    choose_council,
    council,
    fill_letter,
    journey_settings,
    letter_data,
)
from tests.security.helpers import assert_mail_inert

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("journey_settings")]

INJECTED = "Eve\r\nBcc: evil@example.net\r\nSubject: pwned"


def _headers_are_clean():
    assert_mail_inert()
    for message in mail.outbox:
        raw = message.message()
        assert raw["Bcc"] is None
        assert raw.get_all("Subject") and len(raw.get_all("Subject")) == 1
        assert "evil@example.net" not in message.recipients()
        headers = raw.as_bytes().split(b"\n\n", 1)[0]
        assert b"\nBcc:" not in headers
        assert b"\nSubject: pwned" not in headers


@pytest.mark.parametrize("field", ["first_name", "last_name", "street_address"])
def test_the_form_refuses_line_breaks_in_single_line_fields(client, campaign, council, field):
    choose_council(client, campaign)
    response = fill_letter(
        client, campaign, letter_data(recipients=[council["mayor"].pk], **{field: INJECTED})
    )
    assert response.status_code == 200
    assert "Use a single line" in response.content.decode()


def test_the_form_refuses_line_breaks_in_an_editable_subject(client, campaign, council):
    Campaign.objects.filter(pk=campaign.pk).update(editing_mode=Campaign.EditingMode.EDITABLE)
    choose_council(client, campaign)
    data = letter_data(recipients=[council["mayor"].pk], subject=INJECTED, body="Dear council")
    response = fill_letter(client, campaign, data)
    assert response.status_code == 200
    assert "Use a single line" in response.content.decode()


def test_the_service_collapses_line_breaks_before_any_header(
    campaign, council, django_capture_on_commit_callbacks
):
    # Past the form (an admin action, a future API): the service still keeps headers whole.
    campaign.organization_name = "Org\r\nBcc: evil@example.net"
    campaign.save()
    with django_capture_on_commit_callbacks(execute=True):
        letter = letter_submit(
            campaign=campaign,
            municipality=council["municipality"],
            representative_ids=[rep.pk for rep in council["emailable"]],
            first_name=INJECTED,
            last_name=INJECTED,
            email="jane@example.org",
            postal_code="K1A 0B1",
            street_address=INJECTED,
            language="en",
        )
    with django_capture_on_commit_callbacks(execute=True):
        letter_confirm(token=letter.confirmation_token)
    letter = Letter.objects.get()
    assert "\n" not in letter.first_name and "\r" not in letter.last_name
    assert len(mail.outbox) >= 4
    _headers_are_clean()
    letter_to_council = next(m for m in mail.outbox if "ottawa.example.org" in m.to[0])
    assert "Eve" in letter_to_council.from_email
    assert letter_to_council.reply_to[0].endswith("<jane@example.org>")


def test_organizer_subject_lines_never_carry_a_break(
    campaign, council, django_capture_on_commit_callbacks
):
    campaign.letter_subjects_en = "Hello {municipality}\rBcc: evil@example.net"
    campaign.save()
    with django_capture_on_commit_callbacks(execute=True):
        letter = letter_submit(
            campaign=campaign,
            municipality=council["municipality"],
            representative_ids=[council["mayor"].pk],
            first_name="Jane",
            last_name="Doe",
            email="jane@example.org",
            postal_code="K1A 0B1",
            language="en",
        )
    with django_capture_on_commit_callbacks(execute=True):
        letter_confirm(token=letter.confirmation_token)
    _headers_are_clean()
