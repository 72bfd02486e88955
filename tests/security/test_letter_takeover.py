# ruff: noqa: F811  (pytest fixtures imported from journey_helpers)
"""The audit's critical finding, walked end to end: knowing a resident's email address and
city must give a stranger nothing, not their letter, not its status page, not its links.

Each test plays the attacker with a separate client (their own session), through the real
views, and then checks what the attacker's pages, session and the outbox hold.
"""

import re

import pytest
from django.core import mail
from django.test import Client

from letters import services
from letters.models import Letter
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

VICTIM = "victim@example.org"
SECRETS = ("Vera", "Victim", "12 Secret Lane", "My private reason to write.")


def victim_writes(campaign, council, capture, *, confirm: bool) -> Letter:
    victim = Client()
    with capture(execute=True):
        write_and_send(
            victim,
            campaign,
            letter_data(
                recipients=[rep.pk for rep in council["emailable"]],
                first_name="Vera",
                last_name="Victim",
                email=VICTIM,
                street_address="12 Secret Lane",
                personal_message="My private reason to write.",
            ),
        )
    letter = Letter.objects.get(email=VICTIM)
    if confirm:
        with capture(execute=True):
            services.letter_confirm(token=letter.confirmation_token)
        letter.refresh_from_db()
    return letter


def attacker_pages(campaign, council, capture, *, email=VICTIM) -> list[str]:
    """The audit's attack: council step, letter step with the victim's address (the form
    need not even be valid), then "send the link again"; then the attacker opens every page
    the journey leads to. Returns those pages' HTML, CSRF tokens blanked."""
    attacker = Client()
    pages = []
    choose_council(attacker, campaign)
    fill_letter(attacker, campaign, {"email": email, "first_name": "", "personal_message": "x"})
    with capture(execute=True):
        response = attacker.post(f"/campaigns/{campaign.slug}/resend/")
        pages.append(response.content.decode())
        pages.append(attacker.get(f"/campaigns/{campaign.slug}/thanks/").content.decode())
    session = " ".join(str(value) for value in attacker.session.values())
    pages.append(session)
    return [re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", page) for page in pages]


def assert_learns_nothing(pages: list[str], letter: Letter) -> None:
    for page in pages:
        assert letter.token not in page
        assert letter.confirmation_token not in page
        for secret in SECRETS:
            assert secret not in page
        assert "/letters/" not in page


@pytest.mark.parametrize("confirmed", [True, False], ids=["sent", "pending"])
def test_knowing_an_address_and_a_city_reveals_no_letter_and_kills_no_link(
    client, campaign, council, journey_settings, django_capture_on_commit_callbacks, confirmed
):
    letter = victim_writes(campaign, council, django_capture_on_commit_callbacks, confirm=confirmed)
    token, confirmation_token = letter.token, letter.confirmation_token
    mail.outbox.clear()

    pages = attacker_pages(campaign, council, django_capture_on_commit_callbacks)

    assert_learns_nothing(pages, letter)
    letter.refresh_from_db()
    assert (letter.token, letter.confirmation_token) == (token, confirmation_token)
    # The resident's emailed link still works, and their data is still there.
    assert client.get(f"/letters/confirm/{confirmation_token}/").status_code in (200, 302)
    assert letter.street_address == "12 Secret Lane" and letter.purged_at is None
    # Only the address on file heard of it.
    assert {address for message in mail.outbox for address in message.to} <= {VICTIM}


def test_the_attacker_cannot_tell_a_resident_who_wrote_from_one_who_did_not(
    campaign, council, journey_settings, django_capture_on_commit_callbacks
):
    victim_writes(campaign, council, django_capture_on_commit_callbacks, confirm=True)
    wrote = attacker_pages(campaign, council, django_capture_on_commit_callbacks)
    never = attacker_pages(
        campaign, council, django_capture_on_commit_callbacks, email="nobody@example.org"
    )
    assert wrote[1].replace(VICTIM, "ADDRESS") == never[1].replace("nobody@example.org", "ADDRESS")


def test_sending_a_letter_in_someone_elses_name_shows_the_page_anyone_gets(
    campaign, council, journey_settings, django_capture_on_commit_callbacks
):
    """The duplicate page told a stranger whether an address had written, and whether its
    letter was pending or sent. Now a Send answers every case alike."""
    letter = victim_writes(campaign, council, django_capture_on_commit_callbacks, confirm=True)
    mail.outbox.clear()

    def send_as(email):
        attacker = Client()
        data = letter_data(
            recipients=[rep.pk for rep in council["emailable"]],
            email=email,
            personal_message="ATTACKER WORDS",
        )
        with django_capture_on_commit_callbacks(execute=True):
            response = write_and_send(attacker, campaign, data)
        html = attacker.get(response["Location"]).content.decode()
        return re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", html)

    victim_page = send_as(VICTIM)
    fresh_page = send_as("fresh@example.org")
    assert victim_page.replace(VICTIM, "ADDRESS") == fresh_page.replace(
        "fresh@example.org", "ADDRESS"
    )
    assert_learns_nothing([victim_page], letter)
    # Neither email carries the stranger's words.
    for message in mail.outbox:
        assert "ATTACKER WORDS" not in message.body
        assert "ATTACKER WORDS" not in message.alternatives[0].content


def test_thirty_victims_from_one_address_give_nothing_away(
    campaign, council, journey_settings, django_capture_on_commit_callbacks
):
    letters = []
    for number in range(30):
        victim = Client()
        email = f"resident{number}@example.org"
        with django_capture_on_commit_callbacks(execute=True):
            write_and_send(
                victim,
                campaign,
                letter_data(recipients=[council["mayor"].pk], email=email, first_name="Vera"),
            )
        letters.append(Letter.objects.get(email=email))
    attacker = Client()
    for letter in letters:
        choose_council(attacker, campaign)
        fill_letter(attacker, campaign, {"email": letter.email})
        attacker.post(f"/campaigns/{campaign.slug}/resend/")
        html = attacker.get(f"/campaigns/{campaign.slug}/thanks/").content.decode()
        assert letter.token not in html and "/letters/" not in html
    for letter in letters:
        before = letter.confirmation_token
        letter.refresh_from_db()
        assert letter.confirmation_token == before


def test_the_confirmation_email_carries_none_of_the_writers_words(
    client, campaign, council, journey_settings, django_capture_on_commit_callbacks
):
    """Anyone can type any address: the email sent to it must not carry their text."""
    with django_capture_on_commit_callbacks(execute=True):
        write_and_send(
            client,
            campaign,
            letter_data(
                recipients=[council["mayor"].pk],
                email=VICTIM,
                first_name="Buy",
                last_name="Pills",
                personal_message="Visit pills dot example for cheap pills",
            ),
        )
    (message,) = mail.outbox
    for part in (message.subject, message.body, message.alternatives[0].content):
        assert "pills" not in part.lower()
    letter = Letter.objects.get()
    # The page the link opens shows the whole letter, personal words included.
    page = client.get(f"/letters/confirm/{letter.confirmation_token}/").content.decode()
    assert "Visit pills dot example for cheap pills" in page
