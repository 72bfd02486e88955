"""The answer page (/letters/<token>/reply/): a writer reports, per councillor, whether they
replied, with an optional summary and the choice to publish it. Nobody else learns or changes
anything through it, and the answers go with the letter's data."""

from datetime import date, timedelta
from io import StringIO

import pytest
import time_machine
from django.core.management import call_command
from django.urls import reverse

from letters.models import Delivery, Reply
from tests.factories import CampaignFactory
from tests.letters.followup_helpers import SENT_AT, council_of, reply_to, sent_letter

pytestmark = pytest.mark.django_db

NOW = SENT_AT + timedelta(days=15)


@pytest.fixture(autouse=True)
def _frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def council():
    return council_of("Ottawa", ["Mara Mayor", "Cora Councillor", "Bea Bounced"])


@pytest.fixture
def letter(council):
    municipality, (mayor, cora, bea) = council
    letter = sent_letter(CampaignFactory(slug="cams"), municipality, [mayor, cora], clerk=True)
    Delivery.objects.create(
        letter=letter,
        representative=bea,
        recipient_name=bea.name,
        recipient_email=bea.email,
        status=Delivery.Status.BOUNCED,
    )
    return letter


def url(letter, token=None) -> str:
    return reverse("letters:reply", kwargs={"token": token or letter.token})


def deliveries(letter) -> dict[str, Delivery]:
    return {delivery.recipient_name: delivery for delivery in letter.deliveries.all()}


def answer(delivery, outcome, *, replied_on="", summary="", publish=False) -> dict:
    prefix = f"d{delivery.pk}-"
    data = {prefix + "outcome": outcome, prefix + "replied_on": replied_on}
    data[prefix + "summary"] = summary
    if publish:
        data[prefix + "may_publish"] = "on"
    return data


def test_it_asks_about_each_councillor_the_letter_reached(client, letter):
    response = client.get(url(letter) + "?outcome=replied")

    assert response.status_code == 200
    content = response.content.decode()
    assert "Mara Mayor" in content and "Cora Councillor" in content
    # Not the clerk's copy, not a recipient the letter never reached.
    assert "Bea Bounced" not in content and "Clerk" not in content
    rows = response.context["rows"]
    assert [form.initial for _delivery, form in rows] == [{"outcome": "replied"}] * 2
    # Opening the link records nothing.
    assert Reply.objects.count() == 0
    assert response["Cache-Control"].startswith("max-age=0")


def test_it_records_a_reply_per_councillor_with_its_summary_and_publish_choice(client, letter):
    reached = deliveries(letter)
    data = {
        **answer(
            reached["Mara Mayor"],
            "replied",
            replied_on="2026-11-09",
            summary="She will table a motion.",
            publish=True,
        ),
        **answer(reached["Cora Councillor"], "unsatisfactory", summary="A form letter."),
    }

    response = client.post(url(letter), data)

    assert response.status_code == 302
    assert response["Location"] == letter.status_url()
    mara = Reply.objects.get(delivery=reached["Mara Mayor"])
    assert (mara.outcome, mara.replied_on, mara.summary, mara.may_publish) == (
        "replied",
        date(2026, 11, 9),
        "She will table a motion.",
        True,
    )
    assert mara.days_to_reply == 7
    cora = Reply.objects.get(delivery=reached["Cora Councillor"])
    assert (cora.outcome, cora.summary, cora.may_publish) == (
        "unsatisfactory",
        "A form letter.",
        False,
    )


def test_a_second_answer_replaces_the_first(client, letter):
    reached = deliveries(letter)
    first = {
        **answer(reached["Mara Mayor"], "no_reply"),
        **answer(reached["Cora Councillor"], "no_reply"),
    }
    client.post(url(letter), first)
    second = {
        **answer(reached["Mara Mayor"], "replied", summary="Yes, at last."),
        **answer(reached["Cora Councillor"], "no_reply"),
    }

    client.post(url(letter), second)

    assert Reply.objects.count() == 2
    assert Reply.objects.get(delivery=reached["Mara Mayor"]).summary == "Yes, at last."
    page = client.get(url(letter))
    assert [form.initial["outcome"] for _delivery, form in page.context["rows"]] == [
        "replied",
        "no_reply",
    ]


def test_no_reply_keeps_no_summary_and_publishes_nothing(client, letter):
    reached = deliveries(letter)
    data = {
        **answer(
            reached["Mara Mayor"], "no_reply", replied_on="2026-11-09", summary="x", publish=True
        ),
        **answer(reached["Cora Councillor"], "no_reply"),
    }

    client.post(url(letter), data)

    reply = Reply.objects.get(delivery=reached["Mara Mayor"])
    assert (reply.replied_on, reply.summary, reply.may_publish) == (None, "", False)


def test_it_refuses_a_reply_dated_in_the_future_and_records_nothing(client, letter):
    reached = deliveries(letter)
    data = {
        **answer(reached["Mara Mayor"], "replied", replied_on="2026-12-31"),
        **answer(reached["Cora Councillor"], "replied"),
    }

    response = client.post(url(letter), data)

    assert response.status_code == 200
    assert "Enter a date that has passed." in response.content.decode()
    assert Reply.objects.count() == 0


def test_an_answer_is_needed_for_each_councillor(client, letter):
    reached = deliveries(letter)

    response = client.post(url(letter), answer(reached["Mara Mayor"], "replied"))

    assert response.status_code == 200
    assert "Choose an answer." in response.content.decode()
    assert Reply.objects.count() == 0


def test_a_tampered_token_finds_nothing_and_records_nothing(client, letter):
    reached = deliveries(letter)
    data = {
        **answer(reached["Mara Mayor"], "replied"),
        **answer(reached["Cora Councillor"], "replied"),
    }
    tampered = letter.token[:-1] + ("A" if letter.token[-1] != "A" else "B")

    assert client.get(url(letter, tampered)).status_code == 404
    assert client.post(url(letter, tampered), data).status_code == 404
    assert client.get(url(letter, letter.confirmation_token)).status_code == 404
    assert Reply.objects.count() == 0


def test_someone_elses_deliveries_cannot_be_answered_through_my_link(client, letter, council):
    municipality, (mayor, _cora, _bea) = council
    other = sent_letter(letter.campaign, municipality, [mayor], email="other@example.net")
    theirs = other.deliveries.get()
    reply_to(other, mayor, "no_reply")
    mine = deliveries(letter)
    data = {
        **answer(mine["Mara Mayor"], "replied"),
        **answer(mine["Cora Councillor"], "replied"),
        **answer(theirs, "replied", summary="Forged"),
    }

    response = client.post(url(letter), data)

    assert response.status_code == 302
    assert Reply.objects.get(delivery=theirs).outcome == "no_reply"
    page = client.get(url(letter)).content.decode()
    assert "other@example.net" not in page and other.last_name not in page
    assert other.token not in page


@pytest.mark.parametrize("method", ["put", "delete", "patch"])
def test_it_refuses_other_methods(client, letter, method):
    assert getattr(client, method)(url(letter)).status_code == 405
    assert Reply.objects.count() == 0


def test_an_erased_letter_has_no_answer_page(client, letter):
    client.post(reverse("letters:delete", kwargs={"token": letter.token}))

    assert client.get(url(letter)).status_code == 404


def test_delete_my_data_erases_the_words_and_keeps_whether_and_when(client, letter, council):
    _municipality, (mayor, cora, _bea) = council
    reply_to(
        letter, mayor, replied_on=date(2026, 11, 9), summary="Call me at 555", may_publish=True
    )
    reply_to(letter, cora, "no_reply")

    client.post(reverse("letters:delete", kwargs={"token": letter.token}))

    kept = {
        reply.delivery.recipient_name: (
            reply.outcome,
            reply.replied_on,
            reply.summary,
            reply.may_publish,
        )
        for reply in Reply.objects.select_related("delivery")
    }
    assert kept == {
        "Mara Mayor": ("replied", date(2026, 11, 9), "", False),
        "Cora Councillor": ("no_reply", None, "", False),
    }


def test_the_purge_erases_the_words_after_the_retention_period(letter, council):
    _municipality, (mayor, _cora, _bea) = council
    reply_to(letter, mayor, replied_on=date(2026, 11, 9), summary="Pasted answer", may_publish=True)
    letter.campaign.retention_days = 30
    letter.campaign.save()

    with time_machine.travel(SENT_AT + timedelta(days=29), tick=False):
        call_command("purge_personal_data", stdout=StringIO())
    assert Reply.objects.get().summary == "Pasted answer"
    with time_machine.travel(SENT_AT + timedelta(days=31), tick=False):
        call_command("purge_personal_data", stdout=StringIO())

    reply = Reply.objects.get()
    assert (reply.outcome, reply.replied_on, reply.summary, reply.may_publish) == (
        "replied",
        date(2026, 11, 9),
        "",
        False,
    )


def test_a_test_letters_answers_are_not_recorded(client, council):
    municipality, (mayor, _cora, _bea) = council
    test = sent_letter(CampaignFactory(), municipality, [mayor], is_test=True)

    client.post(url(test), answer(test.deliveries.get(), "replied"))

    assert Reply.objects.count() == 0


def test_a_reply_carries_what_responsiveness_counts_it_by(client, letter, council):
    municipality, (mayor, _cora, _bea) = council
    reached = deliveries(letter)
    data = {
        **answer(reached["Mara Mayor"], "replied"),
        **answer(reached["Cora Councillor"], "no_reply"),
    }

    client.post(url(letter), data)

    reply = Reply.objects.get(delivery=reached["Mara Mayor"])
    assert (reply.campaign, reply.letter, reply.municipality, reply.representative) == (
        letter.campaign,
        letter,
        municipality,
        mayor,
    )
    assert reply.delivery_sent_at == SENT_AT
