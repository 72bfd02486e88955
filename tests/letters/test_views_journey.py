# ruff: noqa: F811  (pytest fixtures imported from journey_helpers)
"""The letter form's steps through the Django test client: council, letter, preview, send."""

import re

import pytest
from django.core import mail
from django.test import Client

from campaigns.models import Campaign
from councils.models import PostcodePrefix
from letters import services
from letters.models import BlockedSender, Delivery, Letter
from tests.factories import MunicipalityFactory, RepresentativeFactory
from tests.letters.journey_helpers import (  # noqa: F401
    campaign,
    choose_council,
    council,
    fill_letter,
    journey_settings,
    letter_data,
    picker_options,
    send,
    write_and_send,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("journey_settings")]


def html_of(response) -> str:
    return response.content.decode()


def everyone(council):
    return [rep.pk for rep in council["emailable"]]


def offered(html: str) -> list[str]:
    return [label for label, _preselected in picker_options(html)]


# --- Step 1: the council ----------------------------------------------------------------------


def test_the_campaign_page_shows_the_postal_code_step(client, campaign):
    html = html_of(client.get("/campaigns/cams/"))
    assert 'action="/campaigns/cams/council/#letter-form"' in html
    assert re.search(r'<label\s+for="id_postal_code"[^>]*>\s*Postal code', html)
    assert 'src="/static/js/letter.js"' in html


def test_the_campaign_page_has_no_form_when_closed(client, campaign):
    campaign.status = Campaign.Status.CLOSED
    campaign.save()
    assert "id_postal_code" not in html_of(client.get("/campaigns/cams/"))


def test_a_bad_postal_code_is_shown_next_to_the_field(client, campaign, council):
    response = choose_council(client, campaign, postal_code="12345")
    html = html_of(response)
    assert response.status_code == 200
    assert "Enter a postal code like K1A 0B1." in html
    assert 'aria-invalid="true"' in html
    assert 'href="#id_postal_code"' in html  # the error summary links to the field


def test_a_postal_code_that_decides_goes_to_the_letter(client, campaign, council):
    response = choose_council(client, campaign, postal_code="k1a0b1")
    assert response.status_code == 302
    assert response["Location"] == "/campaigns/cams/write/"


def test_an_undecided_postal_code_offers_the_municipality_picker(client, campaign, council):
    MunicipalityFactory(name="Gatineau", province="QC")
    response = choose_council(client, campaign, postal_code="K2P 1L4")
    html = html_of(response)
    assert response.status_code == 200
    assert re.search(r"<legend[^>]*>\s*Municipality", html)
    assert offered(html) == ["Ottawa"]  # same province as the K postal code, not Gatineau


def test_the_picker_searches_without_javascript(client, campaign, council):
    MunicipalityFactory(name="Kingston", province="ON")
    choose_council(client, campaign, postal_code="K2P 1L4")
    response = client.post("/campaigns/cams/council/", {"action": "search", "q": "kings"})
    assert offered(html_of(response)) == ["Kingston"]


def test_the_picker_shows_every_suggestion_for_a_shared_prefix(client, campaign, council):
    gatineau = MunicipalityFactory(name="Gatineau", province="QC")
    PostcodePrefix.objects.create(fsa="K1A", municipality=gatineau)
    html = html_of(choose_council(client, campaign))
    assert "Suggested for your postal code" in html
    assert offered(html) == ["Gatineau", "Ottawa"]


def test_picking_a_municipality_goes_to_the_letter(client, campaign, council):
    choose_council(client, campaign, postal_code="K2P 1L4")
    response = client.post(
        "/campaigns/cams/council/",
        {"action": "pick", "q": "", "municipality": str(council["municipality"].pk)},
    )
    assert response["Location"] == "/campaigns/cams/write/"
    assert "Mara Mayor" in html_of(client.get("/campaigns/cams/write/"))


def test_the_picker_refuses_a_municipality_it_did_not_offer(client, campaign, council):
    elsewhere = MunicipalityFactory(name="Halifax", province="NS")
    choose_council(client, campaign, postal_code="K2P 1L4")
    response = client.post(
        "/campaigns/cams/council/", {"action": "pick", "municipality": str(elsewhere.pk)}
    )
    assert response.status_code == 200
    assert "Choose your municipality from the list." in html_of(response)


def test_the_council_step_without_a_postal_code_leads_back_to_the_campaign(client, campaign):
    response = client.get("/campaigns/cams/council/")
    assert response.status_code == 302 and response["Location"] == "/campaigns/cams/"
    assert client.get("/campaigns/cams/council/", {"action": "pick"}).status_code == 302
    assert client.put("/campaigns/cams/council/").status_code == 405


# --- Step 2: the letter -----------------------------------------------------------------------


def test_the_letter_step_needs_a_council_first(client, campaign):
    response = client.get("/campaigns/cams/write/")
    assert response.status_code == 302
    assert response["Location"] == "/campaigns/cams/"


def test_the_letter_step_lists_recipients_and_those_without_email(client, campaign, council):
    choose_council(client, campaign)
    html = html_of(client.get("/campaigns/cams/write/"))
    # Each named once, with the title only when the name does not already hold it.
    flat = " ".join(html.split())
    assert re.search(r">\s?Mara Mayor\s?</label>", flat) and "Mara Mayor, Mayor" not in flat
    assert re.search(r">\s?Cora Councillor\s?</label>", flat)
    assert "Councillor, Councillor" not in flat
    assert "Nora Noemail, Councillor" in flat
    assert f'name="recipients" value="{council["mayor"].pk}"' in html
    assert "Nora Noemail" in html and "613-555-0100" in html
    assert f'name="recipients" value="{council["no_email"].pk}"' not in html
    for label in (
        "First name",
        "Last name",
        "Email",
        "Your personal message",
        "Send me a copy",
        "Keep me updated about this campaign",
    ):
        assert label in html
    assert campaign.personal_prompt in html
    assert "Four U.S. cities ban it." in html  # talking point checkbox


def test_the_letter_step_in_french_uses_the_french_labels_field_names(client, campaign, council):
    choose_council(client, campaign, prefix="/fr")
    response = client.get("/fr/campaigns/cams/write/")
    html = html_of(response)
    assert '<html lang="fr">' in html
    assert "Quatre villes américaines l&#x27;interdisent." in html


def test_a_missing_email_keeps_everything_typed(client, campaign, council):
    choose_council(client, campaign)
    response = fill_letter(
        client,
        campaign,
        letter_data(email="", recipients=everyone(council), personal_message="Keep me, please."),
    )
    html = html_of(response)
    assert response.status_code == 200
    assert "Enter your email address." in html
    assert 'href="#id_email"' in html
    assert "Keep me, please.</textarea>" in html
    assert 'value="Jane"' in html
    # Leaving and coming back to the step keeps it too.
    assert "Keep me, please.</textarea>" in html_of(client.get("/campaigns/cams/write/"))


def test_the_personal_message_survives_a_new_postal_code(client, campaign, council):
    choose_council(client, campaign)
    fill_letter(client, campaign, letter_data(email="", personal_message="Still here."))
    choose_council(client, campaign)
    assert "Still here.</textarea>" in html_of(client.get("/campaigns/cams/write/"))


def test_unticking_everyone_is_an_error(client, campaign, council):
    choose_council(client, campaign)
    response = fill_letter(client, campaign, letter_data())
    assert "Choose at least one recipient." in html_of(response)


def test_line_breaks_in_a_name_are_refused(client, campaign, council):
    choose_council(client, campaign)
    response = fill_letter(
        client,
        campaign,
        letter_data(first_name="Eve\r\nBcc: x@example.org", recipients=everyone(council)),
    )
    assert "Use a single line" in html_of(response)


def test_a_personal_message_over_the_limit_is_refused(client, campaign, council):
    choose_council(client, campaign)
    response = fill_letter(
        client, campaign, letter_data(personal_message="x" * 2001, recipients=everyone(council))
    )
    assert response.status_code == 200
    html = html_of(response)
    assert (
        "Your personal message must be 2,000 characters or fewer. "
        "You have 1 character too many." in html
    )
    # Typed past the limit, the text is kept, and no maxlength cuts it in the browser.
    assert "x" * 2001 + "</textarea>" in html
    assert "maxlength" not in html


# --- Step 3: preview and send -----------------------------------------------------------------


def test_the_preview_shows_exactly_what_is_sent(client, campaign, council):
    choose_council(client, campaign)
    fill_letter(
        client,
        campaign,
        letter_data(recipients=everyone(council), talking_points=[campaign.point.pk]),
    )
    html = html_of(client.get("/campaigns/cams/preview/"))
    assert "Jane Doe via Privacy Org &lt;letters@privacy.example.org&gt;" in html
    assert "Please act in Ottawa" in html
    assert "My street has three new cameras." in html
    assert "Four U.S. cities ban it. [1]" in html
    assert "[1] Berkeley bans it, Gizmodo" in html
    assert "mayor@ottawa.example.org" in html


def test_the_preview_round_trip_keeps_the_personal_message(client, campaign, council):
    choose_council(client, campaign)
    fill_letter(client, campaign, letter_data(recipients=everyone(council)))
    client.get("/campaigns/cams/preview/")
    html = html_of(client.get("/campaigns/cams/write/"))
    assert "My street has three new cameras.</textarea>" in html


def test_the_preview_sends_back_to_the_letter_when_incomplete(client, campaign, council):
    choose_council(client, campaign)
    fill_letter(client, campaign, letter_data(email=""))
    assert client.get("/campaigns/cams/preview/")["Location"] == "/campaigns/cams/write/"


def test_sending_saves_the_letter_and_emails_the_confirmation_link(
    client, campaign, council, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = write_and_send(
            client, campaign, letter_data(recipients=everyone(council), keep_updated="on")
        )
    assert response["Location"] == "/campaigns/cams/thanks/"
    letter = Letter.objects.get()
    assert letter.status == Letter.Status.PENDING_CONFIRMATION
    assert letter.consent_given and letter.consent_language == "en" and letter.consent_at
    assert letter.deliveries.count() == 4
    assert len(mail.outbox) == 1
    html = html_of(client.get("/campaigns/cams/thanks/"))
    assert "check your inbox" in html
    assert "jane@example.org" in html


def test_sending_in_french_writes_the_letter_in_french(
    client, campaign, council, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = write_and_send(
            client, campaign, letter_data(recipients=everyone(council)), prefix="/fr"
        )
    assert response["Location"] == "/fr/campaigns/cams/thanks/"
    letter = Letter.objects.get()
    assert letter.language == "fr"
    assert letter.subject == "Agissez à Ottawa"
    assert "/fr/letters/confirm/" in mail.outbox[0].body


def test_a_crafted_post_cannot_change_a_locked_letter(client, campaign, council):
    campaign.editing_mode = Campaign.EditingMode.LOCKED
    campaign.save()
    write_and_send(
        client,
        campaign,
        letter_data(
            recipients=everyone(council),
            subject="Crafted subject",
            body="Crafted body",
            personal_message="Crafted paragraph",
            talking_points=[campaign.point.pk],
        ),
    )
    letter = Letter.objects.get()
    assert letter.subject == "Please act in Ottawa"
    assert "Crafted" not in letter.body
    assert "Four U.S." not in letter.body


def test_a_crafted_post_cannot_change_the_subject_of_a_personal_letter(client, campaign, council):
    write_and_send(
        client,
        campaign,
        letter_data(recipients=everyone(council), subject="Crafted", body="Crafted body"),
    )
    letter = Letter.objects.get()
    assert letter.subject == "Please act in Ottawa"
    assert "Crafted" not in letter.body


def test_an_editable_letter_takes_the_residents_words(client, campaign, council):
    campaign.editing_mode = Campaign.EditingMode.EDITABLE
    campaign.save()
    choose_council(client, campaign)
    html = html_of(client.get("/campaigns/cams/write/"))
    assert "{sender_name}" in html  # filled in later, never by str.format on resident text
    write_and_send(
        client,
        campaign,
        letter_data(
            recipients=everyone(council), subject="My subject", body="My words, {sender_name}."
        ),
    )
    letter = Letter.objects.get()
    assert letter.subject == "My subject"
    assert letter.body.startswith("My words, Jane Doe.")


def test_a_crafted_recipient_from_another_council_is_refused(client, campaign, council):
    stranger = RepresentativeFactory(email="stranger@example.org")
    choose_council(client, campaign)
    response = fill_letter(client, campaign, letter_data(recipients=[stranger.pk]))
    assert "Choose recipients from this council only." in html_of(response)
    assert not Letter.objects.exists()


def test_the_honeypot_looks_like_success_and_sends_nothing(client, campaign, council):
    response = write_and_send(
        client, campaign, letter_data(recipients=everyone(council), website="http://spam")
    )
    assert response["Location"] == "/campaigns/cams/thanks/"
    assert not Letter.objects.exists()
    assert mail.outbox == []


def test_too_fast_a_send_is_asked_to_try_again(client, campaign, council, journey_settings):
    journey_settings.LETTERS_MIN_FILL_SECONDS = 3600
    response = write_and_send(client, campaign, letter_data(recipients=everyone(council)))
    assert response.status_code == 200
    assert "That was quick!" in html_of(response)
    assert not Letter.objects.exists()


def test_a_pending_letter_ends_on_check_your_inbox_without_its_status_link(
    client, campaign, council, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = write_and_send(client, campaign, letter_data(recipients=everyone(council)))
    assert response["Location"] == "/campaigns/cams/thanks/"
    html = html_of(client.get("/campaigns/cams/thanks/"))
    letter = Letter.objects.get()
    assert "check your inbox" in html
    assert "jane@example.org" in html
    assert letter.token not in html and letter.confirmation_token not in html


def test_send_it_again_emails_the_same_link_to_the_address_on_file(
    client, campaign, council, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        write_and_send(client, campaign, letter_data(recipients=everyone(council)))
    letter = Letter.objects.get()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/campaigns/cams/resend/")
    assert response["Location"] == "/campaigns/cams/thanks/"
    letter.refresh_from_db()
    # The link already in the inbox keeps working: a resend never replaces it.
    assert [message.to for message in mail.outbox] == [["jane@example.org"]] * 2
    assert letter.confirmation_token in mail.outbox[-1].body
    assert "We sent the email again" in html_of(client.get("/campaigns/cams/thanks/"))


def test_a_second_letter_after_confirmation_gets_the_same_page_and_its_owner_a_reminder(
    client, campaign, council, django_capture_on_commit_callbacks
):
    write_and_send(client, campaign, letter_data(recipients=everyone(council)))
    first = Letter.objects.get()
    services.letter_confirm(token=first.confirmation_token)
    mail.outbox.clear()
    other = Client()
    with django_capture_on_commit_callbacks(execute=True):
        response = write_and_send(
            other, campaign, letter_data(recipients=everyone(council), email="Jane+x@example.org")
        )
    assert response["Location"] == "/campaigns/cams/thanks/"
    html = html_of(other.get("/campaigns/cams/thanks/"))
    assert "check your inbox" in html and "already" not in html
    assert first.token not in html
    assert Letter.objects.count() == 1
    assert [message.to for message in mail.outbox] == [["jane@example.org"]]
    assert first.token in mail.outbox[0].body


def test_too_many_letters_from_one_address_get_a_friendly_page(
    client, campaign, council, journey_settings
):
    journey_settings.LETTERS_RATE_LIMIT_PER_IP = 1
    write_and_send(client, campaign, letter_data(recipients=everyone(council)))
    response = write_and_send(
        client, campaign, letter_data(recipients=everyone(council), email="other@example.org")
    )
    assert response.status_code == 429
    html = html_of(response)
    assert "Please wait an hour" in html
    assert "<h1" in html  # a page of the site, not a bare error
    assert Letter.objects.count() == 1


def test_a_blocked_sender_sees_a_neutral_message(client, campaign, council):
    BlockedSender.objects.create(kind=BlockedSender.Kind.EMAIL, value="jane@example.org")
    response = write_and_send(client, campaign, letter_data(recipients=everyone(council)))
    html = html_of(response)
    assert "We could not accept this letter" in html
    assert "blocked" not in html.lower()
    assert not Letter.objects.exists()
    assert mail.outbox == []


def test_the_client_ip_header_is_configurable(client, campaign, council, journey_settings):
    journey_settings.LETTERS_CLIENT_IP_HEADER = "HTTP_X_FORWARDED_FOR"
    journey_settings.LETTERS_TRUSTED_PROXIES = ["127.0.0.1"]  # the test client's REMOTE_ADDR
    BlockedSender.objects.create(kind=BlockedSender.Kind.IP, value="198.51.100.7")
    response = write_and_send(
        client,
        campaign,
        letter_data(recipients=everyone(council)),
        HTTP_X_FORWARDED_FOR="10.0.0.1, 198.51.100.7",
    )
    assert "We could not accept this letter" in html_of(response)


def test_the_preview_rejects_other_methods(client, campaign, council):
    assert client.put("/campaigns/cams/preview/").status_code == 405


def test_a_draft_campaign_is_404_for_the_letter_steps(client, campaign):
    campaign.status = Campaign.Status.DRAFT
    campaign.save()
    assert client.get("/campaigns/cams/write/").status_code == 404
    assert client.post("/campaigns/cams/council/", {"postal_code": "K1A0B1"}).status_code == 404


def test_without_confirmation_the_thanks_page_counts_the_letter(
    client, campaign, council, django_capture_on_commit_callbacks
):
    campaign.requires_confirmation = False
    campaign.save()
    with django_capture_on_commit_callbacks(execute=True):
        write_and_send(client, campaign, letter_data(recipients=everyone(council)))
    letter = Letter.objects.get()
    assert letter.status == Letter.Status.CONFIRMED
    assert not letter.deliveries.filter(status=Delivery.Status.PENDING_CONFIRMATION).exists()
    html = html_of(client.get("/campaigns/cams/thanks/"))
    assert "Thank you!" in html
    assert "<strong>1</strong> letter sent of a goal of 100" in html
    assert "Send it to more members yourself" in html and "Nora Noemail" in html
    assert 'href="mailto:?subject=Please%20act%20in%20Ottawa' in html
    assert "https://ottawa.example.org/contact" in html


def test_a_ward_from_the_lookup_narrows_the_recipients(client, campaign, council):
    from tests.factories import WardFactory

    campaign.recipient_scope = Campaign.RecipientScope.MAYOR_AND_WARD
    campaign.save()
    ward = WardFactory(municipality=council["municipality"], name="Somerset")
    council["first"].ward = ward
    council["first"].save()
    PostcodePrefix.objects.filter(fsa="K1A").update(ward=ward)
    choose_council(client, campaign)
    html = html_of(client.get("/campaigns/cams/write/"))
    assert "Somerset" in html
    assert "Mara Mayor" in html and "Cora Councillor" in html
    assert "Carl Councillor" not in html


def test_the_subject_sent_is_the_subject_previewed(client, campaign, council):
    campaign.letter_subjects_en = "\n".join(f"Subject {n} for {{municipality}}" for n in range(20))
    campaign.save()
    choose_council(client, campaign)
    fill_letter(client, campaign, letter_data(recipients=everyone(council)))
    html = html_of(client.get("/campaigns/cams/preview/"))
    previewed = re.search(r"Subject \d+ for Ottawa", html).group(0)
    send(client, campaign)
    assert Letter.objects.get().subject == previewed


def test_the_campaign_page_offers_to_continue_a_started_letter(client, campaign, council):
    assert "Continue the letter you started" not in html_of(client.get("/campaigns/cams/"))
    choose_council(client, campaign)
    html = html_of(client.get("/campaigns/cams/"))
    assert 'href="/campaigns/cams/write/">Continue the letter you started' in html
    assert 'value="K1A 0B1"' in html


def _write(client, campaign, council, **overrides):
    assert choose_council(client, campaign).status_code == 302
    data = letter_data(recipients=[rep.pk for rep in council["emailable"]], **overrides)
    assert fill_letter(client, campaign, data).status_code == 302


def test_send_checks_again_when_the_council_changed(client, campaign, council):
    _write(client, campaign, council)
    # A councillor chosen on the letter step leaves the council before Send.
    council["second"].delete()
    response = send(client, campaign)
    assert response.status_code == 302
    assert response["Location"].endswith("/write/")
    assert not Letter.objects.exists()


def test_send_checks_again_when_the_campaign_changed(client, campaign, council):
    _write(client, campaign, council, personal_message="x" * 50)
    # The organizer locks the letter: no personal message any more.
    campaign.editing_mode = Campaign.EditingMode.LOCKED
    campaign.save()
    assert send(client, campaign)["Location"].endswith("/thanks/")
    assert Letter.objects.get().personal_message == ""


# --- The campaign closes while a resident writes -------------------------------------------------


def close(campaign):
    campaign.status = Campaign.Status.CLOSED
    campaign.save()  # clears the cached campaign and page, as an organizer's edit does


def test_a_letter_typed_when_the_campaign_closed_is_given_back(client, campaign, council):
    choose_council(client, campaign)
    client.get("/campaigns/cams/write/")
    close(campaign)
    response = fill_letter(
        client,
        campaign,
        letter_data(personal_message="My own words, typed too late.", recipients=everyone(council)),
    )
    assert response.status_code == 302 and response["Location"] == "/campaigns/cams/"

    html = html_of(client.get("/campaigns/cams/"))
    assert "Your letter was not sent" in html
    assert "This campaign closed before you sent your letter" in html
    # The letter as far as they got, to copy, with their council's contacts.
    body = re.search(
        r'<textarea[^>]*id="closed-letter-body"[^>]*>(.*?)</textarea>', html, re.DOTALL
    )
    assert "My own words, typed too late." in body.group(1)
    assert "Dear Mayor and Council," in body.group(1)
    assert 'href="mailto:mayor@ottawa.example.org"' in html
    assert 'href="tel:+16135550100"' in html  # Nora Noemail, reached by phone
    assert "id_postal_code" not in html
    assert not Letter.objects.exists()


def test_a_send_after_the_campaign_closed_keeps_the_letter_for_its_writer(
    client, campaign, council
):
    choose_council(client, campaign)
    fill_letter(
        client, campaign, letter_data(personal_message="Ready to go.", recipients=everyone(council))
    )
    close(campaign)
    response = send(client, campaign)
    assert response.status_code == 302 and response["Location"] == "/campaigns/cams/"
    html = html_of(client.get(response["Location"]))
    assert "Your letter was not sent" in html and "Ready to go." in html
    assert not Letter.objects.exists()


def test_a_closed_campaign_shows_no_draft_to_other_visitors(client, campaign, council):
    choose_council(client, campaign)
    fill_letter(client, campaign, letter_data(personal_message="Mine alone."))
    close(campaign)
    html = html_of(Client().get("/campaigns/cams/"))
    assert "This campaign is closed." in html
    assert "Mine alone." not in html and "Your letter was not sent" not in html


# --- After sending: the letter to send to more members yourself --------------------------------


def test_the_writer_gets_their_letter_to_send_to_more_members(
    client, campaign, council, django_capture_on_commit_callbacks
):
    ottawa = council["municipality"]
    ottawa.website = "https://ottawa.example.org"
    ottawa.save()
    campaign.requires_confirmation = False
    campaign.save()
    with django_capture_on_commit_callbacks(execute=True):
        write_and_send(client, campaign, letter_data(recipients=[council["mayor"].pk]))
    letter = Letter.objects.get()
    html = html_of(client.get("/campaigns/cams/thanks/"))
    assert "Send it to more members yourself" in html
    # Plain, selectable text: it works without JavaScript (a Copy button comes with it).
    body = re.search(
        r'<textarea[^>]*id="sent-letter-body"[^>]*readonly>(.*?)</textarea>', html, re.DOTALL
    )
    assert body.group(1).startswith("Dear Mara Mayor,")
    assert f'value="{letter.subject}"' in html
    assert 'href="https://ottawa.example.org"' in html
    assert 'href="mailto:?subject=Please%20act%20in%20Ottawa&amp;body=Dear%20Mara%20Mayor' in html
    # Members without email are still listed with their other ways in.
    assert "Nora Noemail, Councillor" in html and 'href="tel:+16135550100"' in html


def test_check_your_inbox_offers_no_letter(client, campaign, council):
    write_and_send(client, campaign, letter_data(recipients=everyone(council)))
    html = html_of(client.get("/campaigns/cams/thanks/"))
    assert "check your inbox" in html
    assert "Send it to more members yourself" not in html
    assert "<textarea" not in html and "My street has three new cameras." not in html


def test_the_municipality_picker_writes_wards_with_a_colon(client, campaign, council):
    from tests.factories import WardFactory

    ward = WardFactory(municipality=council["municipality"], name="Somerset")
    PostcodePrefix.objects.create(fsa="K2P", municipality=council["municipality"], ward=ward)
    PostcodePrefix.objects.create(fsa="K2P", municipality=MunicipalityFactory(name="Gatineau"))
    html = html_of(choose_council(client, campaign, postal_code="K2P 1L4"))
    assert "Ottawa: Somerset" in html
