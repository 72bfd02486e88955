# ruff: noqa: F811  (pytest fixtures imported from journey_helpers)
"""The letter's greeting: the whole council, or one representative by name."""

import pytest
from django.utils import translation

from letters.composition import Sender, compose_letter
from tests.letters.journey_helpers import campaign, council  # noqa: F401

pytestmark = pytest.mark.django_db

COUNCIL_FR = "Madame la Mairesse, Monsieur le Maire, Mesdames et Messieurs les membres du conseil"


def _french(msgid: str) -> str:
    with translation.override("fr"):
        return translation.gettext(msgid)


def greeting(campaign, council, recipients, language):
    campaign.letter_template_en = "{salutation},\n\n{recipient_name} / {recipient_title}"
    campaign.letter_template_fr = "{salutation},\n\n{recipient_name} / {recipient_title}"
    with translation.override(language):
        composed = compose_letter(
            campaign=campaign,
            municipality=council["municipality"],
            recipients=recipients,
            sender=Sender("Jane", "Doe", "K1A 0B1"),
            language=language,
        )
    return composed.body.split("\n\nSincerely")[0].split("\n\nCordialement")[0]


def test_a_letter_to_several_greets_the_council(campaign, council):
    assert greeting(campaign, council, council["emailable"], "en") == (
        "Dear Mayor and Council,\n\nMayor and Council / Members of Council"
    )


def test_a_letter_to_one_greets_them_by_name(campaign, council):
    assert greeting(campaign, council, [council["first"]], "en") == (
        "Dear Cora Councillor,\n\nCora Councillor / Councillor"
    )


@pytest.mark.skipif(
    _french("Dear Mayor and Council") == "Dear Mayor and Council",
    reason="the French for the new greetings is not in the catalogue yet",
)
def test_a_french_letter_greets_the_council_as_a_quebec_letter_does(campaign, council):
    body = greeting(campaign, council, council["emailable"], "fr")
    assert body.startswith(COUNCIL_FR + ",\n\n")
    assert greeting(campaign, council, [council["first"]], "fr").startswith(
        "Bonjour Cora Councillor,"
    )
