# ruff: noqa: F811  (pytest fixtures imported from journey_helpers)
"""letter_submit, letter_confirm, letter_confirmation_resend and the token bucket."""

from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.core.exceptions import ValidationError
from django.utils import timezone

from campaigns.models import Campaign
from letters import services
from letters.models import BlockedSender, Delivery, Letter, TokenBucket
from tests.factories import MunicipalityFactory, RepresentativeFactory
from tests.letters.journey_helpers import campaign, council, journey_settings  # noqa: F401

pytestmark = pytest.mark.django_db


def submit(campaign, council, **overrides):
    kwargs = {
        "campaign": campaign,
        "municipality": council["municipality"],
        "representative_ids": [rep.pk for rep in council["emailable"]],
        "first_name": "Jane",
        "last_name": "Doe",
        "email": "jane@example.org",
        "postal_code": "K1A 0B1",
        "language": "en",
        "personal_message": "Cameras everywhere.",
        "ip": "203.0.113.9",
    }
    kwargs.update(overrides)
    return services.letter_submit(**kwargs)


def test_it_saves_the_letter_and_one_delivery_per_recipient(
    campaign, council, journey_settings, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        letter = submit(campaign, council, talking_point_ids=[campaign.point.pk])
    assert letter.status == Letter.Status.PENDING_CONFIRMATION
    assert letter.subject == "Please act in Ottawa"
    assert "I live in Ottawa. Jane Doe" in letter.body
    assert "Cameras everywhere." in letter.body
    assert "Four U.S. cities ban it. [1]" in letter.body
    assert "[1] Berkeley bans it, Gizmodo" in letter.body
    assert letter.talking_points == [campaign.point.pk]
    statuses = dict(letter.deliveries.values_list("recipient_name", "status"))
    assert statuses == {
        "Mara Mayor": Delivery.Status.PENDING_CONFIRMATION,
        "Cora Councillor": Delivery.Status.PENDING_CONFIRMATION,
        "Carl Councillor": Delivery.Status.PENDING_CONFIRMATION,
        "Nora Noemail": Delivery.Status.NO_EMAIL,
    }
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["jane@example.org"]
    assert letter.confirmation_token in mail.outbox[0].body
    campaign.refresh_from_db()
    assert campaign.letters_count == 0


def test_it_sends_nothing_to_representatives_before_confirmation(
    campaign, council, journey_settings, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        submit(campaign, council)
    assert [message.to for message in mail.outbox] == [["jane@example.org"]]


def test_without_confirmation_it_queues_at_once_and_counts(
    campaign, council, journey_settings, django_capture_on_commit_callbacks
):
    campaign.requires_confirmation = False
    campaign.save()
    with django_capture_on_commit_callbacks(execute=True):
        letter = submit(campaign, council)
    letter.refresh_from_db()
    assert letter.status == Letter.Status.CONFIRMED
    assert letter.confirmed_at is not None
    assert not letter.deliveries.filter(status=Delivery.Status.PENDING_CONFIRMATION).exists()
    campaign.refresh_from_db()
    assert campaign.letters_count == 1
    recipients = " ".join(address for message in mail.outbox for address in message.to)
    assert "mayor@ottawa.example.org" in recipients and "cora@ottawa.example.org" in recipients


def test_a_second_letter_from_a_mailbox_that_already_wrote_sends_its_owner_a_reminder(
    campaign, council, journey_settings, django_capture_on_commit_callbacks
):
    campaign.requires_confirmation = False
    campaign.save()
    first = submit(campaign, council)
    mail.outbox.clear()
    with (
        django_capture_on_commit_callbacks(execute=True),
        pytest.raises(services.LetterDuplicate),
    ):
        submit(campaign, council, email="JANE+again@example.org")
    assert Letter.objects.count() == 1
    # Only the address on file hears of it, with the link to the letter already sent.
    assert [message.to for message in mail.outbox] == [[first.email]]
    assert first.token in mail.outbox[0].body
    assert "Cameras everywhere." not in mail.outbox[0].body


def test_address_variants_of_one_mailbox_are_one_sender(campaign, council, journey_settings):
    campaign.requires_confirmation = False
    campaign.save()
    submit(campaign, council, email="jane.doe@gmail.com")
    for variant in ("JaneDoe@gmail.com", "j.a.n.e.d.o.e+council@googlemail.com"):
        with pytest.raises(services.LetterDuplicate):
            submit(campaign, council, email=variant)
    # Dots matter at other providers; tags do not.
    with pytest.raises(services.LetterDuplicate):
        submit(campaign, council, email="jane.doe@gmail.com")
    submit(campaign, council, email="jane.doe@example.org")
    submit(campaign, council, email="janedoe@example.org")
    assert Letter.objects.count() == 3


def test_an_unconfirmed_letter_holds_no_place(
    campaign, council, journey_settings, django_capture_on_commit_callbacks
):
    """A stranger's letter in someone's name waits for a confirmation that never comes; the
    owner's own letter is saved beside it, and confirming it withdraws the stranger's."""
    with django_capture_on_commit_callbacks(execute=True):
        strangers = submit(campaign, council, personal_message="Not my words.")
        owners = submit(campaign, council, email="Jane+own@example.org")
    assert strangers.status == owners.status == Letter.Status.PENDING_CONFIRMATION
    assert len(mail.outbox) == 2
    with django_capture_on_commit_callbacks(execute=True):
        confirmed, now = services.letter_confirm(token=owners.confirmation_token)
    assert now and confirmed == owners
    strangers.refresh_from_db()
    assert strangers.status == Letter.Status.REPLACED
    assert (
        not strangers.deliveries.exclude(status=Delivery.Status.NO_EMAIL)
        .exclude(status=Delivery.Status.PENDING_CONFIRMATION)
        .exists()
    )
    # The stranger's link no longer sends anything.
    letter, now = services.letter_confirm(token=strangers.confirmation_token)
    assert not now and letter.status == Letter.Status.REPLACED
    campaign.refresh_from_db()
    assert campaign.letters_count == 1


def test_two_links_confirmed_at_once_send_one_letter(campaign, council, journey_settings):
    first = submit(campaign, council)
    second = submit(campaign, council)
    # As if the first confirmation committed while the second was on its way.
    Letter.objects.filter(pk=first.pk).update(
        status=Letter.Status.CONFIRMED, confirmed_at=timezone.now()
    )
    letter, now = services.letter_confirm(token=second.confirmation_token)
    assert (letter, now) == (first, False)
    second.refresh_from_db()
    assert second.status == Letter.Status.REPLACED


def test_the_database_refuses_a_second_confirmed_letter_from_one_mailbox():
    from django.db import IntegrityError, transaction

    from tests.factories import CampaignFactory

    campaign, municipality = CampaignFactory(), MunicipalityFactory()

    def letter(status):
        return Letter.objects.create(
            campaign=campaign,
            municipality=municipality,
            email="zoe@example.org",
            email_canonical="zoe@example.org",
            status=status,
            subject="S",
            body="B",
        )

    letter(Letter.Status.PENDING_CONFIRMATION)
    letter(Letter.Status.PENDING_CONFIRMATION)
    letter(Letter.Status.CONFIRMED)
    with pytest.raises(IntegrityError), transaction.atomic():
        letter(Letter.Status.CONFIRMED)
    assert Letter.objects.count() == 3


def test_the_same_email_may_write_to_another_council(campaign, council, journey_settings):
    submit(campaign, council)
    other = MunicipalityFactory(name="Gatineau", province="QC")
    rep = RepresentativeFactory(municipality=other, email="x@gatineau.example.org")
    submit(campaign, {"municipality": other, "emailable": [rep]})
    assert Letter.objects.count() == 2


def test_it_refuses_recipients_from_another_council(campaign, council, journey_settings):
    stranger = RepresentativeFactory(email="stranger@example.org")
    with pytest.raises(ValidationError):
        submit(campaign, council, representative_ids=[council["mayor"].pk, stranger.pk])
    assert not Letter.objects.exists()


def test_it_needs_at_least_one_recipient(campaign, council, journey_settings):
    with pytest.raises(ValidationError):
        submit(campaign, council, representative_ids=[])


def test_unticked_recipients_get_no_delivery(campaign, council, journey_settings):
    letter = submit(campaign, council, representative_ids=[council["first"].pk])
    names = set(letter.deliveries.values_list("recipient_name", flat=True))
    assert names == {"Cora Councillor", "Nora Noemail"}
    # Writing to one person greets them by name.
    assert letter.body.startswith(f"Dear {council['first'].name},")


def test_a_closed_campaign_accepts_no_letters(campaign, council, journey_settings):
    campaign.status = Campaign.Status.CLOSED
    campaign.save()
    with pytest.raises(ValidationError):
        submit(campaign, council)


def test_a_blocked_email_sends_nothing(campaign, council, journey_settings):
    BlockedSender.objects.create(kind=BlockedSender.Kind.EMAIL, value="Jane@Example.org")
    with pytest.raises(services.SenderBlocked):
        submit(campaign, council)
    assert not Letter.objects.exists()
    assert mail.outbox == []


def test_a_blocked_ip_sends_nothing(campaign, council, journey_settings):
    BlockedSender.objects.create(kind=BlockedSender.Kind.IP, value="203.0.113.9")
    with pytest.raises(services.SenderBlocked):
        submit(campaign, council)
    assert not Letter.objects.exists()


def test_it_limits_letters_per_ip(campaign, council, journey_settings):
    journey_settings.LETTERS_RATE_LIMIT_PER_IP = 2
    submit(campaign, council, email="a@example.org")
    submit(campaign, council, email="b@example.org")
    with pytest.raises(services.RateLimited):
        submit(campaign, council, email="c@example.org")
    assert Letter.objects.count() == 2
    # Another address is not affected.
    submit(campaign, council, email="d@example.org", ip="198.51.100.1")


def test_it_limits_attempts_per_email(campaign, council, journey_settings):
    journey_settings.LETTERS_RATE_LIMIT_PER_EMAIL = 1
    submit(campaign, council)
    with pytest.raises(services.RateLimited):
        submit(campaign, council, ip="198.51.100.1")


def test_rate_limit_keys_do_not_store_the_address(campaign, council, journey_settings):
    submit(campaign, council)
    keys = list(TokenBucket.objects.values_list("key", flat=True))
    assert len(keys) == 2
    assert not any("203.0.113.9" in key or "jane" in key for key in keys)


def test_the_bucket_refills_over_time():
    key = TokenBucket.hash_key("ip", "192.0.2.1")
    start = timezone.now()
    bucket = [(key, 1, 1 / 60)]
    assert TokenBucket.authorize_many(bucket, now=start) == set()
    assert TokenBucket.authorize_many(bucket, now=start) == {key}
    later = start + timedelta(seconds=61)
    assert TokenBucket.authorize_many(bucket, now=later) == set()


def test_several_buckets_are_taken_from_in_one_call_each_on_its_own():
    start = timezone.now()

    def take(at):
        return TokenBucket.authorize_many(buckets, now=at)

    small, large = "ip:small", "email:large"
    buckets = [(small, 1, 1 / 3600), (large, 3, 3 / 3600)]
    assert take(start) == set()
    # The small bucket is empty; the large one still gives its tokens.
    assert take(start) == {small}
    assert take(start) == {small}
    assert take(start) == {small, large}
    # Half an hour later the small one is still empty (an empty bucket refills from its last
    # change, not from its last refusal); an hour later both are full again.
    assert take(start + timedelta(minutes=30)) == {small}
    assert take(start + timedelta(hours=1)) == set()
    assert take(start + timedelta(hours=1)) == {small}
    assert sorted(TokenBucket.objects.values_list("key", flat=True)) == [large, small]


def test_a_bucket_named_twice_or_without_capacity():
    assert TokenBucket.authorize_many([("a", 2, 1.0), ("a", 2, 1.0), ("b", 0, 1.0)]) == {"b"}
    assert TokenBucket.objects.get(key="a").tokens == 1
    assert not TokenBucket.objects.filter(key="b").exists()


def test_line_breaks_in_names_never_reach_a_header(
    campaign, council, journey_settings, django_capture_on_commit_callbacks
):
    campaign.requires_confirmation = False
    campaign.save()
    with django_capture_on_commit_callbacks(execute=True):
        letter = submit(
            campaign, council, first_name="Eve\r\nBcc: victim@example.org", last_name="X"
        )
    assert letter.first_name == "Eve Bcc: victim@example.org"
    for message in mail.outbox:
        raw = message.message().as_string()
        assert "\nBcc:" not in raw
        assert "victim@example.org" not in ",".join(message.bcc)


def test_it_stores_consent_with_wording_language_and_time(campaign, council, journey_settings):
    letter = submit(campaign, council, consent_given=True, language="fr")
    assert letter.consent_given is True
    assert letter.consent_language == "fr"
    assert letter.consent_at is not None
    assert "Privacy Org" in letter.consent_text
    assert letter.language == "fr"


def test_without_consent_nothing_is_stored(campaign, council, journey_settings):
    letter = submit(campaign, council)
    assert (letter.consent_given, letter.consent_text, letter.consent_at) == (False, "", None)


def test_a_locked_campaign_ignores_personal_parts(campaign, council, journey_settings):
    campaign.editing_mode = Campaign.EditingMode.LOCKED
    campaign.save()
    letter = submit(
        campaign,
        council,
        personal_message="Injected paragraph",
        talking_point_ids=[campaign.point.pk],
        subject="Crafted subject",
        body="Crafted body",
    )
    assert letter.subject == "Please act in Ottawa"
    assert "Injected" not in letter.body and "Crafted" not in letter.body
    assert "Four U.S." not in letter.body
    assert letter.personal_message == ""


def test_a_personal_campaign_ignores_a_crafted_subject_and_body(
    campaign, council, journey_settings
):
    letter = submit(campaign, council, subject="Crafted subject", body="Crafted body")
    assert letter.subject == "Please act in Ottawa"
    assert "Crafted" not in letter.body


def test_an_editable_campaign_takes_the_residents_subject_and_text(
    campaign, council, journey_settings
):
    campaign.editing_mode = Campaign.EditingMode.EDITABLE
    campaign.save()
    letter = submit(
        campaign,
        council,
        subject="My own\r\nBcc: x@example.org subject",
        body="Hello council, {sender_name} here. {recipient_name.__class__}",
    )
    assert letter.subject == "My own Bcc: x@example.org subject"
    assert letter.body.startswith("Hello council, Jane Doe here. {recipient_name.__class__}")


def test_the_letter_is_written_in_the_chosen_language(campaign, council, journey_settings):
    from django.utils import translation

    with translation.override("fr"):
        letter = submit(campaign, council, language="fr")
    assert letter.subject == "Agissez à Ottawa"
    assert "J'habite Ottawa." in letter.body
    assert "Quatre" not in letter.body


def test_confirming_queues_the_deliveries_and_counts_once(
    campaign, council, journey_settings, django_capture_on_commit_callbacks
):
    letter = submit(campaign, council)
    with django_capture_on_commit_callbacks(execute=True):
        confirmed, now = services.letter_confirm(token=letter.confirmation_token)
    assert now is True
    assert confirmed.status == Letter.Status.CONFIRMED
    assert not letter.deliveries.filter(status=Delivery.Status.PENDING_CONFIRMATION).exists()
    again, now = services.letter_confirm(token=letter.confirmation_token)
    assert now is False and again.pk == letter.pk
    campaign.refresh_from_db()
    assert campaign.letters_count == 1


def test_a_confirmation_link_expires(campaign, council, journey_settings):
    letter = submit(campaign, council)
    later = timezone.now() + timedelta(days=7, minutes=1)
    with time_machine.travel(later), pytest.raises(services.ConfirmationExpired):
        services.letter_confirm(token=letter.confirmation_token)
    letter.refresh_from_db()
    assert letter.status == Letter.Status.PENDING_CONFIRMATION


def test_resending_replaces_the_link(
    campaign, council, journey_settings, django_capture_on_commit_callbacks
):
    letter = submit(campaign, council)
    old = letter.confirmation_token
    with time_machine.travel(timezone.now() + timedelta(days=8)):
        with django_capture_on_commit_callbacks(execute=True):
            letter = services.letter_confirmation_resend(letter=letter)
        assert letter.confirmation_token != old
        assert letter.confirmation_token in mail.outbox[-1].body
        with pytest.raises(Letter.DoesNotExist):
            services.letter_confirm(token=old)
        _letter, now = services.letter_confirm(token=letter.confirmation_token)
        assert now is True


def test_test_letters_never_count(campaign, council, journey_settings):
    letter = submit(campaign, council, is_test=True)
    assert letter.status == Letter.Status.CONFIRMED
    campaign.refresh_from_db()
    assert campaign.letters_count == 0


def test_a_sender_blocked_before_confirming_sends_nothing(
    campaign, council, journey_settings, django_capture_on_commit_callbacks
):
    letter = submit(campaign, council)
    BlockedSender.objects.create(kind=BlockedSender.Kind.EMAIL, value="jane@example.org")
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        letter, now = services.letter_confirm(token=letter.confirmation_token)
    assert now is False
    assert letter.status == Letter.Status.BLOCKED
    assert mail.outbox == []
    campaign.refresh_from_db()
    assert campaign.letters_count == 0


def test_mayor_and_ward_campaigns_write_to_the_mayor_and_the_ward_councillor(
    campaign, council, journey_settings
):
    from tests.factories import WardFactory

    campaign.recipient_scope = Campaign.RecipientScope.MAYOR_AND_WARD
    campaign.save()
    ward = WardFactory(municipality=council["municipality"], name="Somerset")
    council["first"].ward = ward
    council["first"].save()
    letter = submit(
        campaign,
        council,
        ward=ward,
        representative_ids=[council["mayor"].pk, council["first"].pk],
    )
    names = set(letter.deliveries.values_list("recipient_name", flat=True))
    assert names == {"Mara Mayor", "Cora Councillor"}
    with pytest.raises(ValidationError):
        submit(
            campaign,
            council,
            ward=ward,
            email="other@example.org",
            representative_ids=[council["second"].pk],
        )


def test_a_mail_server_outage_does_not_lose_the_letter(
    campaign, council, journey_settings, django_capture_on_commit_callbacks
):
    journey_settings.EMAIL_BACKEND = "tests.letters.journey_helpers.FailingEmailBackend"
    with django_capture_on_commit_callbacks(execute=True):
        letter = submit(campaign, council)
    letter.refresh_from_db()
    assert letter.status == Letter.Status.PENDING_CONFIRMATION
    journey_settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    with django_capture_on_commit_callbacks(execute=True):
        letter = services.letter_confirmation_resend(letter=letter)
    assert letter.confirmation_token in mail.outbox[-1].body


def test_a_delivery_holds_whatever_the_directory_holds():
    """letter_submit copies a representative's name, role and email into each delivery
    without checking them again: the delivery's columns must be at least as large."""
    from councils.models import Representative

    pairs = [
        ("recipient_name", "name"),
        ("recipient_role", "role_text"),
        ("recipient_email", "email"),
    ]
    for delivery_field, rep_field in pairs:
        copy = Delivery._meta.get_field(delivery_field)
        source = Representative._meta.get_field(rep_field)
        assert copy.max_length >= source.max_length, delivery_field
        assert type(copy) is type(source), delivery_field
