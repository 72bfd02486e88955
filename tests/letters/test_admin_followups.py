"""Campaign updates and replies in the admin, played as members of the staff groups would:
organizers write an update in English and French and alone send it, once, after seeing to how
many; staff read replies without their words; organizers correct them."""

from datetime import date

import pytest
from django.contrib.auth.models import Group
from django.core import mail
from django.urls import reverse

from letters.groups import ORGANIZERS, STAFF, groups_ensure
from letters.models import CampaignUpdate, Reply
from tests.factories import CampaignFactory, UserFactory
from tests.letters.followup_helpers import council_of, reply_to, sent_letter

pytestmark = pytest.mark.django_db


def member(client, group_name: str):
    groups_ensure()
    user = UserFactory(is_staff=True, username=group_name.lower().replace(" ", "-"))
    user.groups.add(Group.objects.get(name=group_name))
    client.force_login(user)
    return client


@pytest.fixture
def organizer(client):
    return member(client, ORGANIZERS)


@pytest.fixture
def staff_member(client):
    return member(client, STAFF)


@pytest.fixture
def campaign():
    campaign = CampaignFactory(slug="cams")
    council = council_of("Ottawa", ["Mara Mayor"])
    sent_letter(campaign, *council, consent_given=True, email="one@example.net")
    sent_letter(campaign, *council, consent_given=True, email="two@example.net")
    sent_letter(campaign, *council, consent_given=False, email="no@example.net")
    return campaign


@pytest.fixture
def update(campaign):
    return CampaignUpdate.objects.create(
        campaign=campaign, subject_en="Vote on Tuesday", body_en="Council votes on Tuesday."
    )


def send_url(update) -> str:
    return reverse("admin:letters_campaignupdate_send", args=[update.pk])


def test_organizers_write_an_update_in_english_and_french(organizer, campaign):
    response = organizer.post(
        reverse("admin:letters_campaignupdate_add"),
        {
            "campaign": campaign.pk,
            "subject_en": "Vote on Tuesday",
            "body_en": "Council votes on Tuesday.",
            "subject_fr": "Vote mardi",
            "body_fr": "Le conseil vote mardi.",
        },
    )

    assert response.status_code == 302
    update = CampaignUpdate.objects.get()
    assert (update.subject("fr"), update.body("fr")) == ("Vote mardi", "Le conseil vote mardi.")
    assert update.created_by.username == "organizers"
    assert update.sent_at is None
    assert mail.outbox == []


def test_the_update_page_offers_organizers_the_send_button(organizer, update):
    response = organizer.get(reverse("admin:letters_campaignupdate_change", args=[update.pk]))

    assert "Send to residents who opted in" in response.content.decode()
    assert send_url(update) in response.content.decode()


def test_organizers_see_how_many_it_goes_to_before_sending(organizer, update):
    response = organizer.get(send_url(update))

    assert response.status_code == 200
    assert response.context["count"] == 2
    assert "will go to 2 residents" in response.content.decode()
    assert mail.outbox == []
    update.refresh_from_db()
    assert update.sent_at is None


def test_organizers_send_it_once(organizer, update, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = organizer.post(send_url(update), follow=True)

    assert "The update is on its way to 2 residents." in response.content.decode()
    assert sorted(message.to[0] for message in mail.outbox) == [
        "one@example.net",
        "two@example.net",
    ]
    with django_capture_on_commit_callbacks(execute=True):
        again = organizer.post(send_url(update), follow=True)

    assert "This update was sent already: it goes out once." in again.content.decode()
    assert len(mail.outbox) == 2
    update.refresh_from_db()
    assert update.recipients == 2
    # As sent: no longer editable, nor deletable.
    page = organizer.get(reverse("admin:letters_campaignupdate_change", args=[update.pk]))
    assert "Send to residents who opted in" not in page.content.decode()
    assert 'name="body_en"' not in page.content.decode()
    delete = reverse("admin:letters_campaignupdate_delete", args=[update.pk])
    assert organizer.post(delete, {"post": "yes"}).status_code == 403


def test_the_list_action_leads_to_the_same_confirmation(organizer, update):
    response = organizer.post(
        reverse("admin:letters_campaignupdate_changelist"),
        {"action": "send_to_residents", "_selected_action": [update.pk]},
    )

    assert response.status_code == 302
    assert response["Location"] == send_url(update)
    assert mail.outbox == []


def test_staff_cannot_send_an_update(staff_member, update, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        assert staff_member.get(send_url(update)).status_code == 403
        assert staff_member.post(send_url(update)).status_code == 403
        listing = staff_member.post(
            reverse("admin:letters_campaignupdate_changelist"),
            {"action": "send_to_residents", "_selected_action": [update.pk]},
        )

    assert listing.status_code == 200
    assert listing.context["action_form"] is None
    assert mail.outbox == []
    update.refresh_from_db()
    assert update.sent_at is None
    page = staff_member.get(reverse("admin:letters_campaignupdate_change", args=[update.pk]))
    assert page.status_code == 200
    assert "Send to residents who opted in" not in page.content.decode()


def test_a_user_who_may_edit_updates_but_not_send_them_cannot_send(client, update):
    from django.contrib.auth.models import Permission

    user = UserFactory(is_staff=True, username="editor")
    user.user_permissions.add(
        *Permission.objects.filter(codename__in=["view_campaignupdate", "change_campaignupdate"])
    )
    client.force_login(user)

    assert client.post(send_url(update)).status_code == 403
    assert mail.outbox == []


# --- Replies ---------------------------------------------------------------------------------


@pytest.fixture
def reply(campaign):
    letter = campaign.letters.order_by("pk").first()
    return reply_to(
        letter,
        letter.deliveries.get().representative,
        replied_on=date(2026, 11, 9),
        summary="Secret-ish words from Wanda",
        may_publish=False,
    )


def test_staff_read_replies_without_their_words(staff_member, reply):
    listing = staff_member.get(reverse("admin:letters_reply_changelist"))
    page = staff_member.get(reverse("admin:letters_reply_change", args=[reply.pk]))

    assert listing.status_code == page.status_code == 200
    assert "Mara Mayor" in listing.content.decode()
    assert "Secret-ish" not in listing.content.decode() + page.content.decode()
    assert "Wanda" not in page.content.decode()


def test_staff_cannot_change_a_reply(staff_member, reply):
    response = staff_member.post(
        reverse("admin:letters_reply_change", args=[reply.pk]),
        {"outcome": "no_reply", "replied_on": "", "may_publish": ""},
    )

    assert response.status_code == 403
    reply.refresh_from_db()
    assert reply.outcome == "replied"


def test_staff_cannot_find_a_reply_by_its_words(staff_member, reply):
    response = staff_member.get(
        reverse("admin:letters_reply_changelist") + "?summary__icontains=Secret"
    )
    letter_lookup = staff_member.get(
        reverse("admin:letters_reply_changelist") + "?delivery__letter__email=one@example.net"
    )

    # Django answers a lookup the admin refuses with 400 (DisallowedModelAdminLookup).
    assert response.status_code == 400
    assert letter_lookup.status_code == 400


def test_organizers_filter_replies_by_campaign(organizer, reply):
    campaign_id = reply.delivery.letter.campaign_id
    response = organizer.get(
        reverse("admin:letters_reply_changelist")
        + f"?delivery__letter__campaign__id__exact={campaign_id}"
    )

    assert response.status_code == 200
    assert "Mara Mayor" in response.content.decode()


def test_organizers_read_and_correct_a_reply(organizer, reply):
    url = reverse("admin:letters_reply_change", args=[reply.pk])
    assert "Secret-ish words" in organizer.get(url).content.decode()

    response = organizer.post(
        url,
        {
            "outcome": "unsatisfactory",
            "replied_on": "2026-11-10",
            "summary": "Corrected",
            "may_publish": "",
        },
    )

    assert response.status_code == 302
    reply.refresh_from_db()
    assert (reply.outcome, reply.replied_on, reply.summary) == (
        "unsatisfactory",
        date(2026, 11, 10),
        "Corrected",
    )


def test_nobody_adds_or_deletes_a_reply_in_the_admin(organizer, reply):
    assert organizer.get(reverse("admin:letters_reply_add")).status_code == 403
    delete = reverse("admin:letters_reply_delete", args=[reply.pk])
    assert organizer.post(delete, {"post": "yes"}).status_code == 403
    assert Reply.objects.filter(pk=reply.pk).exists()
