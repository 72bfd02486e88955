"""Who may do and see what in the letters admin: actions, personal data, tokens, the outbox.

Each test plays the request a member of a staff group would make through the real admin.
"""

from datetime import datetime

import pytest
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from letters.groups import ORGANIZERS, STAFF, groups_ensure
from letters.models import BlockedSender, Delivery, Letter, OutboxMessage, OutgoingMail
from tests.factories import UserFactory
from tests.letters.delivery_helpers import fail_deliveries, make_letter

pytestmark = pytest.mark.django_db

# What a resident typed: none of it may reach someone without letters.view_personal_data.
RESIDENT = {
    "first_name": "Philomena",
    "last_name": "Quartermaine",
    "email": "philomena.q@example.net",
    "email_canonical": "philomenaq@example.net",
    "postal_code": "K1A 0B1",
    "street_address": "42 Wallaby Way",
    "personal_message": "My grandmother was misidentified by a camera.",
    "subject": "A plea from Philomena",
    "body": "Dear Council, signed Philomena Quartermaine",
    "consent_text": "Keep Philomena posted",
}
PERSONAL_SNIPPETS = [
    "Philomena",
    "Quartermaine",
    "philomena.q@example.net",
    "philomenaq@example.net",
    "K1A 0B1",
    "0B1",
    "42 Wallaby Way",
    "misidentified",
]


def member_client(client, group_name: str):
    groups_ensure()
    user = UserFactory(is_staff=True, username=group_name.lower().replace(" ", "-"))
    user.groups.add(Group.objects.get(name=group_name))
    client.force_login(user)
    return client


@pytest.fixture
def staff_member(client):
    return member_client(client, STAFF)


@pytest.fixture
def organizer(client):
    return member_client(client, ORGANIZERS)


@pytest.fixture
def letter():
    letter = make_letter(recipients=2)
    Letter.objects.filter(pk=letter.pk).update(**RESIDENT)
    letter.refresh_from_db()
    return letter


def failed(letter: Letter) -> Letter:
    fail_deliveries(letter.deliveries.all())
    return letter


def letters_url() -> str:
    return reverse("admin:letters_letter_changelist")


def letter_url(letter: Letter) -> str:
    return reverse("admin:letters_letter_change", args=[letter.pk])


def assert_no_tokens(letter: Letter, content: bytes) -> None:
    assert letter.token.encode() not in content
    assert letter.confirmation_token.encode() not in content


# --- actions -------------------------------------------------------------------------------------


def test_staff_cannot_block_senders(staff_member, letter):
    response = staff_member.post(
        letters_url(), {"action": "block_senders", "_selected_action": [letter.pk]}
    )

    assert BlockedSender.objects.count() == 0
    # Staff are offered no action at all: Django ignores the posted one and shows the list.
    assert response.status_code == 200
    assert response.context["action_form"] is None
    assert b"address blocked" not in response.content


def test_staff_cannot_resend_failed_deliveries_from_the_letters_list(
    staff_member, letter, django_capture_on_commit_callbacks
):
    failed(letter)

    with django_capture_on_commit_callbacks(execute=True):
        response = staff_member.post(
            letters_url(), {"action": "resend_failed_deliveries", "_selected_action": [letter.pk]}
        )

    assert response.status_code == 200
    assert b"queued for a new attempt" not in response.content
    assert set(letter.deliveries.values_list("status", flat=True)) == {Delivery.Status.FAILED}
    assert set(letter.mails.values_list("status", flat=True)) == {OutgoingMail.Status.FAILED}
    assert mail.outbox == []


def test_staff_cannot_resend_failed_deliveries_from_the_deliveries_list(
    staff_member, letter, django_capture_on_commit_callbacks
):
    failed(letter)
    selected = list(letter.deliveries.values_list("pk", flat=True))

    with django_capture_on_commit_callbacks(execute=True):
        response = staff_member.post(
            reverse("admin:letters_delivery_changelist"),
            {"action": "resend_failed", "_selected_action": selected},
        )

    assert response.status_code == 200
    assert b"queued for a new attempt" not in response.content
    assert set(letter.deliveries.values_list("status", flat=True)) == {Delivery.Status.FAILED}
    assert set(letter.mails.values_list("status", flat=True)) == {OutgoingMail.Status.FAILED}
    assert mail.outbox == []


def test_organizers_block_senders(organizer, letter):
    response = organizer.post(
        letters_url(), {"action": "block_senders", "_selected_action": [letter.pk]}, follow=True
    )

    assert b"1 address blocked." in response.content
    assert BlockedSender.objects.filter(kind="email", value=RESIDENT["email"]).exists()


def test_organizers_resend_failed_deliveries(organizer, letter, django_capture_on_commit_callbacks):
    failed(letter)

    with django_capture_on_commit_callbacks(execute=True):
        response = organizer.post(
            letters_url(),
            {"action": "resend_failed_deliveries", "_selected_action": [letter.pk]},
            follow=True,
        )

    assert b"2 failed deliveries queued for a new attempt." in response.content
    assert set(letter.deliveries.values_list("status", flat=True)) == {Delivery.Status.SENT}
    assert len(mail.outbox) == 2
    # New emails: the failed ones stay as they were.
    assert letter.mails.filter(status=OutgoingMail.Status.FAILED, attempts=6).count() == 2
    assert letter.mails.filter(status=OutgoingMail.Status.SENT, attempts=1).count() == 2


def test_organizers_resend_from_the_deliveries_list(
    organizer, letter, django_capture_on_commit_callbacks
):
    failed(letter)
    first = letter.deliveries.order_by("pk").first()

    with django_capture_on_commit_callbacks(execute=True):
        organizer.post(
            reverse("admin:letters_delivery_changelist"),
            {"action": "resend_failed", "_selected_action": [first.pk]},
        )

    first.refresh_from_db()
    assert first.status == Delivery.Status.SENT
    assert first.mail.attempts == 1
    assert len(mail.outbox) == 1
    assert letter.deliveries.exclude(pk=first.pk).get().status == Delivery.Status.FAILED


# --- the letter page -----------------------------------------------------------------------------


def test_staff_see_a_letter_without_the_residents_personal_data(staff_member, letter):
    response = staff_member.get(letter_url(letter))

    assert response.status_code == 200
    content = response.content.decode()
    for snippet in PERSONAL_SNIPPETS:
        assert snippet not in content
    assert_no_tokens(letter, response.content)
    # What staff need: where and when, the FSA and the deliveries.
    assert letter.municipality.name in content
    assert "K1A" in content
    assert "Confirmed" in content
    for delivery in letter.deliveries.all():
        assert delivery.recipient_email in content


def test_staff_see_the_letters_list_without_personal_data(staff_member, letter):
    response = staff_member.get(letters_url())

    assert response.status_code == 200
    content = response.content.decode()
    for snippet in PERSONAL_SNIPPETS:
        assert snippet not in content
    assert_no_tokens(letter, response.content)
    assert letter.municipality.name in content


def test_organizers_see_the_residents_personal_data_but_no_token(organizer, letter):
    response = organizer.get(letter_url(letter))

    assert response.status_code == 200
    content = response.content.decode()
    for value in RESIDENT.values():
        assert value in content
    assert_no_tokens(letter, response.content)


def test_superusers_never_see_tokens(staff_client, letter):
    page = staff_client.get(letter_url(letter))
    history = staff_client.get(reverse("admin:letters_letter_history", args=[letter.pk]))

    assert RESIDENT["street_address"] in page.content.decode()
    assert_no_tokens(letter, page.content)
    assert_no_tokens(letter, history.content)


def change_form_data(page) -> dict:
    """What the browser would post back from a letter's change page, unchanged."""
    form = page.context["adminform"].form
    data = {}
    for name, value in form.initial.items():
        if name not in form.fields or value in (None, False):
            continue
        if isinstance(value, datetime):
            value = timezone.localtime(value)
            data[f"{name}_0"], data[f"{name}_1"] = value.date(), value.time()
        else:
            data[name] = form[name].value()
    for inline in page.context["inline_admin_formsets"]:
        formset = inline.formset
        management = formset.management_form
        data |= {
            management.add_prefix(name): management[name].value() for name in management.fields
        }
        for subform in formset.forms:
            data[subform.add_prefix("id")] = subform.instance.pk
    return data


def test_a_superuser_saves_a_letter_and_its_tokens_stay(staff_client, letter):
    page = staff_client.get(letter_url(letter))
    data = change_form_data(page) | {"street_address": "43 Wallaby Way"}

    response = staff_client.post(letter_url(letter), data)

    assert response.status_code == 302
    saved = Letter.objects.get(pk=letter.pk)
    assert saved.street_address == "43 Wallaby Way"
    assert saved.created_at == letter.created_at
    assert (saved.token, saved.confirmation_token) == (letter.token, letter.confirmation_token)


# --- searching and filtering ---------------------------------------------------------------------


def test_staff_cannot_learn_who_wrote_by_searching_letters(staff_member, letter):
    for term in (RESIDENT["email"], RESIDENT["last_name"], RESIDENT["postal_code"]):
        response = staff_member.get(letters_url(), {"q": term})

        assert response.status_code == 200
        assert response.context["cl"].result_count == 0


def test_staff_still_search_letters_by_municipality(staff_member, letter):
    response = staff_member.get(letters_url(), {"q": letter.municipality.name})

    assert response.context["cl"].result_count == 1


def test_staff_cannot_filter_letters_by_a_personal_field(staff_member, letter):
    for lookup in ("email", "last_name__icontains", "street_address__startswith"):
        response = staff_member.get(letters_url(), {lookup: RESIDENT["email"]})

        assert response.status_code == 400


def test_nobody_finds_a_letter_by_its_token(staff_client, letter):
    found = staff_client.get(letters_url(), {"q": letter.token})
    filtered = staff_client.get(letters_url(), {"confirmation_token": letter.confirmation_token})

    assert found.context["cl"].result_count == 0
    assert filtered.status_code == 400


def test_organizers_find_letters_by_the_residents_email(organizer, letter):
    response = organizer.get(letters_url(), {"q": RESIDENT["email"]})

    assert response.context["cl"].result_count == 1


# --- where a letter's name or address shows ----------------------------------------------------


def test_a_letter_is_named_by_number_and_municipality(letter):
    assert str(letter) == f"Letter #{letter.pk} to {letter.municipality.name}"


def test_view_on_site_does_not_lead_to_the_letters_status_page(staff_member, letter):
    content_type = ContentType.objects.get_for_model(Letter)

    response = staff_member.get(reverse("admin:view_on_site", args=[content_type.pk, letter.pk]))

    assert response.status_code == 404
    assert letter.token not in response.get("Location", "")


def test_staff_see_a_delivery_without_its_letters_personal_data(staff_member, letter):
    delivery = letter.deliveries.first()

    response = staff_member.get(reverse("admin:letters_delivery_change", args=[delivery.pk]))

    assert response.status_code == 200
    content = response.content.decode()
    assert delivery.recipient_email in content
    for snippet in PERSONAL_SNIPPETS:
        assert snippet not in content
    assert_no_tokens(letter, response.content)


def test_staff_cannot_search_deliveries_by_the_residents_email(staff_member, letter):
    search = staff_member.get(reverse("admin:letters_delivery_changelist"), {"q": "philomena"})
    lookup = staff_member.get(
        reverse("admin:letters_delivery_changelist"), {"letter__email": RESIDENT["email"]}
    )

    assert search.context["cl"].result_count == 0
    assert lookup.status_code == 400


def test_staff_cannot_find_a_letter_through_the_autocomplete(staff_member, letter):
    response = staff_member.get(
        reverse("admin:autocomplete"),
        {"app_label": "letters", "model_name": "delivery", "field_name": "letter", "term": "phil"},
    )

    assert response.status_code == 200
    assert response.json()["results"] == []


# --- the outbox ----------------------------------------------------------------------------------


@pytest.fixture
def kept_message():
    return OutboxMessage.objects.create(
        from_email="letters@example.org",
        to="rep@example.org",
        subject=RESIDENT["subject"],
        body=RESIDENT["body"],
        raw="...",
    )


def test_staff_cannot_view_outbox_messages(staff_member, kept_message):
    listing = staff_member.get(reverse("admin:letters_outboxmessage_changelist"))
    page = staff_member.get(reverse("admin:letters_outboxmessage_change", args=[kept_message.pk]))

    assert listing.status_code == 403
    assert page.status_code == 403


def test_the_outbox_also_needs_the_personal_data_permission(client, kept_message):
    user = UserFactory(is_staff=True, username="mail-reader")
    user.user_permissions.add(
        *Permission.objects.filter(
            content_type__app_label="letters",
            codename__in=["view_outboxmessage", "delete_outboxmessage"],
        )
    )
    client.force_login(user)

    page = client.get(reverse("admin:letters_outboxmessage_change", args=[kept_message.pk]))
    delete = client.get(reverse("admin:letters_outboxmessage_delete", args=[kept_message.pk]))
    index = client.get(reverse("admin:index"))

    assert page.status_code == 403
    assert delete.status_code == 403
    assert b"Outbox messages" not in index.content


def test_a_user_with_the_personal_data_permission_reads_the_outbox(client, kept_message):
    user = UserFactory(is_staff=True, username="mail-reader")
    user.user_permissions.add(
        *Permission.objects.filter(
            content_type__app_label="letters",
            codename__in=["view_outboxmessage", "view_personal_data"],
        )
    )
    client.force_login(user)

    page = client.get(reverse("admin:letters_outboxmessage_change", args=[kept_message.pk]))

    assert page.status_code == 200
    assert RESIDENT["subject"] in page.content.decode()


@pytest.mark.parametrize(
    ("codenames", "shown"),
    [
        (["view_outgoingmail"], False),
        (["view_outgoingmail", "view_personal_data"], True),
    ],
    ids=["without personal data", "with personal data"],
)
def test_the_erasure_notices_address_shows_only_with_the_personal_data_permission(
    client, letter, codenames, shown
):
    notice = OutgoingMail.objects.create(
        kind=OutgoingMail.Kind.ERASED,
        letter=letter,
        campaign=letter.campaign,
        to_email=RESIDENT["email"],
    )
    user = UserFactory(is_staff=True, username="mail-reader")
    user.user_permissions.add(
        *Permission.objects.filter(content_type__app_label="letters", codename__in=codenames)
    )
    client.force_login(user)

    listing = client.get(reverse("admin:letters_outgoingmail_changelist"))
    page = client.get(reverse("admin:letters_outgoingmail_change", args=[notice.pk]))

    assert listing.status_code == page.status_code == 200
    assert RESIDENT["email"] not in listing.content.decode()
    assert (RESIDENT["email"] in page.content.decode()) is shown
    assert notice.get_kind_display() in listing.content.decode()


# --- the organizer's tools -----------------------------------------------------------------------


def test_staff_cannot_send_a_test_letter(staff_member, letter):
    url = reverse("admin:letters_preview", args=[letter.campaign.pk])

    response = staff_member.post(url + f"?municipality={letter.municipality.pk}&language=en")

    assert response.status_code == 403
    assert not Letter.objects.filter(is_test=True).exists()


def test_the_campaign_page_offers_staff_no_preview_link(staff_member, letter):
    campaign = letter.campaign

    response = staff_member.get(reverse("admin:campaigns_campaign_change", args=[campaign.pk]))

    assert response.status_code == 200
    assert reverse("admin:letters_preview", args=[campaign.pk]) not in response.content.decode()


def test_organizers_send_a_test_letter(organizer, letter, django_capture_on_commit_callbacks):
    url = reverse("admin:letters_preview", args=[letter.campaign.pk])

    with django_capture_on_commit_callbacks(execute=True):
        response = organizer.post(url + f"?municipality={letter.municipality.pk}&language=en")

    assert response.status_code == 302
    assert Letter.objects.filter(is_test=True).count() == 1
