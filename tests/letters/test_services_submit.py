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


@pytest.fixture(params=["database", pytest.param("redis", marks=pytest.mark.redis)])
def bucket_store(request, settings):
    """Run a rate-limit test against both stores of letters.ratelimit."""
    from tests.conftest import redis_url

    settings.LETTERS_RATE_LIMIT_STORE = request.param
    if request.param == "redis":
        settings.REDIS_URL = redis_url()
        import redis

        client = redis.Redis.from_url(redis_url())
        for key in client.scan_iter("council-letters:bucket:*"):
            client.delete(key)
    return request.param


def stored_bucket_keys(store: str) -> list[str]:
    if store == "database":
        return list(TokenBucket.objects.values_list("key", flat=True))
    import redis

    from tests.conftest import redis_url

    keys = redis.Redis.from_url(redis_url()).scan_iter("council-letters:bucket:*")
    return [key.decode().removeprefix("council-letters:bucket:") for key in keys]


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


def test_it_rejects_a_second_letter_from_the_same_email_to_the_same_council(
    campaign, council, journey_settings
):
    first = submit(campaign, council)
    with pytest.raises(services.LetterDuplicate) as caught:
        submit(campaign, council, email="JANE@example.org")
    assert caught.value.letter == first
    assert Letter.objects.count() == 1


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


def test_it_limits_letters_per_ip(campaign, council, journey_settings, bucket_store):
    journey_settings.LETTERS_RATE_LIMIT_PER_IP = 2
    submit(campaign, council, email="a@example.org")
    submit(campaign, council, email="b@example.org")
    with pytest.raises(services.RateLimited):
        submit(campaign, council, email="c@example.org")
    assert Letter.objects.count() == 2
    # Another address is not affected.
    submit(campaign, council, email="d@example.org", ip="198.51.100.1")


def test_it_limits_attempts_per_email(campaign, council, journey_settings, bucket_store):
    journey_settings.LETTERS_RATE_LIMIT_PER_EMAIL = 1
    submit(campaign, council)
    with pytest.raises(services.RateLimited):
        submit(campaign, council, ip="198.51.100.1")


def test_rate_limit_keys_do_not_store_the_address(
    campaign, council, journey_settings, bucket_store
):
    submit(campaign, council)
    keys = stored_bucket_keys(bucket_store)
    assert len(keys) == 2
    assert not any("203.0.113.9" in key or "jane" in key for key in keys)


def test_the_bucket_refills_over_time():
    key = TokenBucket.hash_key("ip", "192.0.2.1")
    start = timezone.now()
    assert TokenBucket.authorize(key=key, capacity=1, refill_per_second=1 / 60, now=start)
    assert not TokenBucket.authorize(key=key, capacity=1, refill_per_second=1 / 60, now=start)
    later = start + timedelta(seconds=61)
    assert TokenBucket.authorize(key=key, capacity=1, refill_per_second=1 / 60, now=later)


def test_several_buckets_are_taken_from_in_one_call_each_on_its_own(bucket_store):
    from letters import ratelimit

    start = timezone.now()

    def take(at):
        moment = at if bucket_store == "database" else at.timestamp()
        if bucket_store == "database":
            return TokenBucket.authorize_many(buckets, now=moment)
        return ratelimit.authorize_many(buckets, now=moment)

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
    assert sorted(stored_bucket_keys(bucket_store)) == [large, small]


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


@pytest.mark.parametrize("recipients", [0, 3])
def test_a_letter_and_its_deliveries_are_inserted_as_the_orm_would(recipients):
    from tests.factories import CampaignFactory

    campaign = CampaignFactory()
    municipality = MunicipalityFactory()
    reps = [RepresentativeFactory(municipality=municipality) for _ in range(recipients)]
    letter = Letter(
        campaign=campaign,
        municipality=municipality,
        language="fr",
        first_name="Zoë",
        last_name="O'Brien",
        email="zoe@example.org",
        postal_code="H2X 1Y4",
        subject="Objet",
        body="Madame la mairesse,\n\n« Non » 🙂",
        talking_points=[3, 1],
        consent_given=True,
        consent_at=timezone.now(),
    )
    deliveries = [
        Delivery(
            letter=letter, representative=rep, recipient_name=rep.name, recipient_email=rep.email
        )
        for rep in reps
    ]
    letter.insert_with_deliveries(deliveries)
    stored = Letter.objects.get()
    assert stored.pk == letter.pk and not letter._state.adding
    for field in Letter._meta.concrete_fields:
        assert getattr(stored, field.attname) == getattr(letter, field.attname), field.name
    assert stored.created_at is not None
    assert sorted(d.pk for d in deliveries) == sorted(
        stored.deliveries.values_list("pk", flat=True)
    )
    for delivery in deliveries:
        row = Delivery.objects.get(pk=delivery.pk)
        assert (row.letter_id, row.representative_id, row.recipient_email, row.status) == (
            letter.pk,
            delivery.representative_id,
            delivery.recipient_email,
            Delivery.Status.PENDING_CONFIRMATION,
        )


def test_a_refused_insert_leaves_no_delivery_behind():
    from django.db import IntegrityError, transaction

    from tests.factories import CampaignFactory

    campaign, municipality = CampaignFactory(), MunicipalityFactory()
    rep = RepresentativeFactory(municipality=municipality)

    def letter(email):
        return Letter(
            campaign=campaign,
            municipality=municipality,
            email=email,
            first_name="Zoe",
            subject="S",
            body="B",
        )

    letter("zoe@example.org").insert_with_deliveries([])
    again = letter("ZOE@example.org")
    with pytest.raises(IntegrityError), transaction.atomic():
        again.insert_with_deliveries(
            [Delivery(letter=again, representative=rep, recipient_name="R")]
        )
    assert Letter.objects.count() == 1
    assert not Delivery.objects.exists()


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
