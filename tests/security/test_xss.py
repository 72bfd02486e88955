# ruff: noqa: F811  (pytest fixtures imported from journey_helpers)
"""XSS in every resident field and every organizer copy field, in pages and in emails."""

import pytest
from django.core import mail
from django.core.exceptions import ValidationError

from campaigns.models import Campaign, Citation
from letters.models import Letter
from tests.letters.journey_helpers import (  # noqa: F401
    campaign,
    choose_council,
    council,
    fill_letter,
    journey_settings,
    letter_data,
    send,
)
from tests.security.helpers import XSS, XSS_EMAIL, assert_inert, assert_mail_inert

# What a name may still hold (apostrophes, =, &) arranged to break out of an attribute.
NAME_XSS = "x' autofocus onfocus='alert`1`' &amp"

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("journey_settings")]


def _page(client, url) -> str:
    response = client.get(url)
    assert response.status_code == 200, url
    return response.content.decode()


def _confirm_link() -> str:
    message = next(m for m in mail.outbox if "/letters/confirm/" in m.body)
    line = next(line for line in message.body.splitlines() if "/letters/confirm/" in line)
    return line.strip().removeprefix("http://testserver")


def _walk_the_journey(client, campaign, council, data, capture) -> Letter:
    """Write, preview, send and confirm a letter, asserting every page on the way is inert."""
    assert choose_council(client, campaign).status_code == 302
    response = fill_letter(client, campaign, data)
    assert response.status_code == 302, response.content.decode()[:3000]
    assert_inert(_page(client, f"/campaigns/{campaign.slug}/write/"), "the letter step")
    assert_inert(_page(client, f"/campaigns/{campaign.slug}/preview/"), "the preview")
    with capture(execute=True):
        assert send(client, campaign).status_code == 302
    assert_inert(_page(client, f"/campaigns/{campaign.slug}/thanks/"), "the thanks page")
    assert_inert(_page(client, _confirm_link()), "the confirmation page")
    with capture(execute=True):
        client.post(_confirm_link())
    letter = Letter.objects.get()
    assert letter.status == Letter.Status.CONFIRMED
    assert_inert(_page(client, f"/letters/{letter.token}/"), "the status page")
    assert_inert(_page(client, f"/letters/{letter.token}/delete/"), "the delete page")
    return letter


def test_resident_fields_are_inert_in_pages_and_emails(
    client, campaign, council, django_capture_on_commit_callbacks
):
    data = letter_data(
        # Names refuse < > and quotation marks (test_names.py); apostrophes and = remain.
        first_name=NAME_XSS,
        last_name="O'Brien & d'Arcy",
        email=XSS_EMAIL,
        street_address=XSS,
        personal_message=XSS * 3,
        recipients=[rep.pk for rep in council["emailable"]],
    )
    letter = _walk_the_journey(client, campaign, council, data, django_capture_on_commit_callbacks)
    assert letter.first_name == NAME_XSS  # stored as typed; escaped on the way out
    assert letter.street_address == XSS
    assert letter.email == XSS_EMAIL
    kinds = {m.to[0] for m in mail.outbox}
    assert any("council" not in to and "example.org" in to for to in kinds)
    assert len(mail.outbox) >= 4  # confirmation, three letters, the copy
    assert_mail_inert()


def test_markup_in_names_is_refused_and_echoed_inertly(client, campaign, council):
    choose_council(client, campaign)
    response = fill_letter(client, campaign, letter_data(first_name=XSS[:50], last_name=XSS[:50]))
    assert response.status_code == 200
    html = response.content.decode()
    assert_inert(html, "the name errors")
    # Next to each field, and in the summary above the form.
    assert html.count("Enter your name without @, &lt;, &gt; or brackets.") == 4


def test_editable_subject_and_body_are_inert(
    client, campaign, council, django_capture_on_commit_callbacks
):
    Campaign.objects.filter(pk=campaign.pk).update(editing_mode=Campaign.EditingMode.EDITABLE)
    campaign.refresh_from_db()
    data = letter_data(
        subject="Hello " + XSS,
        body="Dear council,\n" + XSS + "\n{sender_name}",
        recipients=[council["mayor"].pk],
    )
    _walk_the_journey(client, campaign, council, data, django_capture_on_commit_callbacks)
    assert any(XSS in m.body for m in mail.outbox)  # the text part carries it as plain text
    assert_mail_inert()


def test_invalid_postal_code_and_search_echo_inertly(client, campaign):
    response = client.post(
        f"/campaigns/{campaign.slug}/council/", {"postal_code": XSS[:10], "action": "lookup"}
    )
    assert response.status_code == 200
    assert_inert(response.content.decode(), "the postal code error")
    client.post(
        f"/campaigns/{campaign.slug}/council/", {"postal_code": "X0X 0X0", "action": "lookup"}
    )
    response = client.post(f"/campaigns/{campaign.slug}/council/", {"q": XSS, "action": "search"})
    assert response.status_code in (200, 302)
    assert_inert(response.content.decode(), "the municipality search")


def test_an_invalid_email_is_echoed_inertly(client, campaign, council):
    choose_council(client, campaign)
    response = fill_letter(client, campaign, letter_data(email=XSS))
    assert response.status_code == 200
    html = response.content.decode()
    assert_inert(html, "the email error")
    assert "Enter an email address in the correct format" in html


def _poison_campaign(campaign: Campaign) -> None:
    for language in ("en", "fr"):
        setattr(campaign, f"title_{language}", "Title " + XSS)
        setattr(campaign, f"summary_{language}", "Summary " + XSS)
        setattr(
            campaign,
            f"body_{language}",
            "Body " + XSS + "\n\n[click me](javascript:alert(1)) <a href=javascript:alert(1)>a</a>",
        )
        setattr(campaign, f"letter_subjects_{language}", "Subject " + XSS + " {municipality}")
        setattr(
            campaign,
            f"letter_template_{language}",
            "Dear {recipient_name},\n" + XSS + "\n{sender_name}",
        )
        setattr(campaign, f"personal_prompt_{language}", "Prompt " + XSS)
        setattr(campaign, f"thanks_text_{language}", "Thanks " + XSS + " [x](javascript:alert(1))")
        setattr(campaign, f"share_text_{language}", "Share " + XSS)
    campaign.organization_name = "Org " + XSS
    campaign.press_name = "Press " + XSS
    campaign.save()
    point = campaign.talking_points.first()
    point.text_en = point.text_fr = "Point " + XSS + " [x](javascript:alert(1))"
    point.save()
    citation = campaign.citations.first()
    citation.title_en = citation.title_fr = "Citation " + XSS
    citation.publisher = "Publisher " + XSS
    citation.save()


@pytest.mark.parametrize("prefix", ["", "/fr"])
def test_organizer_copy_is_inert_in_pages_and_emails(
    client, campaign, council, prefix, django_capture_on_commit_callbacks
):
    _poison_campaign(campaign)
    for url in (f"{prefix}/campaigns/{campaign.slug}/", f"{prefix}/privacy/", f"{prefix}/"):
        response = client.get(url, follow=True)
        assert response.status_code == 200
        assert_inert(response.content.decode(), url)
    # The shared (cached) page is inert too.
    client.cookies.clear()
    assert_inert(_page(client, f"{prefix}/campaigns/{campaign.slug}/"), "the cached page")
    data = letter_data(recipients=[council["mayor"].pk], talking_points=[campaign.point.pk])
    _walk_the_journey(client, campaign, council, data, django_capture_on_commit_callbacks)
    assert_mail_inert()


def test_a_javascript_citation_url_is_refused():
    citation = Citation(campaign=None, title="x", url="javascript:alert(1)")
    with pytest.raises(ValidationError) as caught:
        citation.full_clean(exclude=["campaign"])
    assert "url" in caught.value.message_dict
