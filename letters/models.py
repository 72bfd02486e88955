import hashlib
import secrets
from dataclasses import dataclass
from datetime import date, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core import signing
from django.db import models, transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from campaigns.models import Campaign
from councils.models import Municipality, Representative, Ward, person_label


def new_token() -> str:
    """An unguessable URL token (256 bits)."""
    return secrets.token_urlsafe(32)


# Mailboxes that ignore dots in the local part, so j.a.n.e@gmail.com is jane@gmail.com.
_DOTLESS_DOMAINS = {"gmail.com": "gmail.com", "googlemail.com": "gmail.com"}


def canonical_email(address: str) -> str:
    """The mailbox an address reaches, for comparing senders: lower case, without a
    "+tag", and without dots for Gmail. Letters are still sent to the address as typed.

    Jane.Doe+council@GoogleMail.com and janedoe@gmail.com are the same resident, for the
    one-letter-per-council rule, the per-address rate limit and the block list.
    """
    address = (address or "").strip().lower()
    local, at, domain = address.rpartition("@")
    if not at or not local:
        return address
    domain = domain.rstrip(".")
    tagless = local.split("+", 1)[0]
    local = tagless or local
    if domain in _DOTLESS_DOMAINS:
        local = local.replace(".", "") or local
        domain = _DOTLESS_DOMAINS[domain]
    return f"{local}@{domain}"


class LetterQuerySet(models.QuerySet):
    def counted(self):
        """Letters that count toward a campaign: confirmed, not tests."""
        return self.filter(is_test=False, confirmed_at__isnull=False)

    def pending(self):
        return self.filter(status=Letter.Status.PENDING_CONFIRMATION)

    def held(self):
        """Letters waiting for their council's contacts (or its new roster after an election):
        held at confirmation, not sent since, not erased (Letter.hold_stage)."""
        return self.filter(
            held_since__isnull=False, released_at__isnull=True, purged_at__isnull=True
        )


def election_since_roster_check(municipality: Municipality, *, now=None) -> date | None:
    """The council's election date when it has passed since its roster was last checked (or
    the roster was never checked), else None: its members may have lost their seats.

    Dates are the municipality's own (its time zone): an election on 26 October holds letters
    from that day on there, and a roster checked on election day counts as checked after it.
    """
    election = municipality.election_date
    if election is None:
        return None
    zone = ZoneInfo(municipality.time_zone)
    if election > timezone.localdate(now or timezone.now(), zone):
        return None
    checked = municipality.roster_checked_at
    if checked is not None and timezone.localdate(checked, zone) >= election:
        return None
    return election


class Letter(models.Model):
    class Status(models.TextChoices):
        PENDING_CONFIRMATION = "pending", _("Waiting for email confirmation")
        CONFIRMED = "confirmed", _("Confirmed")
        BLOCKED = "blocked", _("Blocked")
        # The sender deleted their data before confirming: never sent, never counted.
        WITHDRAWN = "withdrawn", _("Withdrawn by the sender")
        # Never confirmed: a later letter from the same mailbox to the same council was.
        REPLACED = "replaced", _("Replaced by a later letter")

    class HoldReason(models.TextChoices):
        # The council had nobody to email, and the resident asked for the letter to go out
        # once its contacts are added.
        NO_CONTACTS = "contacts", _("Waiting for the council's contacts")
        # The council's election passed after its roster was checked (the campaign's
        # hold_after_election): the letter waits for the new council's contacts.
        ELECTION = "election", _("Waiting for the new council after an election")

    campaign = models.ForeignKey(
        Campaign,
        verbose_name=_("campaign"),
        on_delete=models.PROTECT,
        related_name="letters",
        db_index=False,  # the indexes in Meta start with the campaign
    )
    municipality = models.ForeignKey(
        Municipality,
        verbose_name=_("municipality"),
        on_delete=models.PROTECT,
        related_name="letters",
    )
    ward = models.ForeignKey(
        Ward,
        verbose_name=_("ward"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="letters",
    )
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.PENDING_CONFIRMATION
    )
    is_test = models.BooleanField(
        _("test letter"),
        default=False,
        help_text=_("Sent by an organizer to themselves; never counted, never sent to a council."),
    )
    # Unique through Meta.constraints: unique=True would add a second, pattern-matching index
    # on PostgreSQL, written on every letter and never read (tokens are looked up whole).
    token = models.CharField(_("status token"), max_length=64, default=new_token)
    confirmation_token = models.CharField(_("confirmation token"), max_length=64, default=new_token)
    language = models.CharField(_("language"), max_length=2, default="en")

    # The resident. Erased by purge_personal_data after the campaign's retention period.
    first_name = models.CharField(_("first name"), max_length=100, blank=True)
    last_name = models.CharField(_("last name"), max_length=100, blank=True)
    email = models.EmailField(_("email"), blank=True)
    # canonical_email(email): what the one-letter rule, rate limits and block list compare.
    email_canonical = models.CharField(_("canonical email"), max_length=254, blank=True)
    postal_code = models.CharField(_("postal code"), max_length=7, blank=True)
    street_address = models.CharField(_("street address"), max_length=200, blank=True)
    send_copy = models.BooleanField(_("send me a copy"), default=True)

    # CASL express consent, stored with its exact wording, language and time.
    consent_given = models.BooleanField(_("keep me updated"), default=False)
    consent_text = models.TextField(_("consent wording"), blank=True)
    consent_language = models.CharField(_("consent language"), max_length=2, blank=True)
    consent_at = models.DateTimeField(_("consent time"), null=True, blank=True)
    # Separate consent to the letter's publication in the public record (correspondence to
    # the clerk), stored with its exact wording and time like the CASL consent.
    publication_consent = models.BooleanField(_("publication consent"), default=False)
    publication_consent_text = models.TextField(_("publication consent wording"), blank=True)
    publication_consent_at = models.DateTimeField(
        _("publication consent time"), null=True, blank=True
    )
    # "Ask me in two weeks whether council replied", stored with its wording and time.
    followup_consent = models.BooleanField(_("follow-up asked for"), default=False)
    followup_consent_text = models.TextField(_("follow-up wording"), blank=True)
    followup_consent_at = models.DateTimeField(_("follow-up consent time"), null=True, blank=True)
    followup_sent_at = models.DateTimeField(_("follow-up sent"), null=True, blank=True)
    # The writer stopped the campaign's updates (the unsubscribe link, List-Unsubscribe).
    unsubscribed_at = models.DateTimeField(_("unsubscribed"), null=True, blank=True)

    # "Send my letter when you add my council" (offered when the council has nobody to
    # email), stored with its exact wording, language and time like the CASL consent.
    hold_consent = models.BooleanField(_("send when the council is added"), default=False)
    hold_consent_text = models.TextField(_("hold consent wording"), blank=True)
    hold_consent_language = models.CharField(_("hold consent language"), max_length=2, blank=True)
    hold_consent_at = models.DateTimeField(_("hold consent time"), null=True, blank=True)
    # A confirmed letter that waits instead of going out (Letter.hold): since when, why, and
    # for an election hold the election it waits out. released_at: when it went out at last
    # (letters.services.held_letters_release).
    held_since = models.DateTimeField(_("held since"), null=True, blank=True)
    hold_reason = models.CharField(
        _("held because"), max_length=10, choices=HoldReason.choices, blank=True
    )
    held_for_election = models.DateField(_("held for the election of"), null=True, blank=True)
    released_at = models.DateTimeField(_("held letter sent"), null=True, blank=True)

    # The letter exactly as it was sent.
    subject = models.CharField(_("subject"), max_length=300)
    body = models.TextField(_("body"))
    personal_message = models.TextField(_("personal message"), blank=True)
    talking_points = models.JSONField(_("talking points added"), default=list, blank=True)
    # The personal part, for organizers' figures (kept when personal data is erased): whether
    # the letter had one, and whether it was nearly identical to one already sent to the same
    # councillors (letters.near_duplicates). The signature is erased with the message.
    has_personal_part = models.BooleanField(_("has a personal part"), default=False)
    personal_near_duplicate = models.BooleanField(
        _("personal part nearly identical to another"), default=False
    )
    personal_signature = models.JSONField(
        _("personal part signature"), default=list, blank=True, editable=False
    )

    created_at = models.DateTimeField(_("created"), default=timezone.now, db_index=True)
    # When the current confirmation link was made (its expiry counts from here).
    confirmation_sent_at = models.DateTimeField(_("confirmation sent"), null=True, blank=True)
    confirmed_at = models.DateTimeField(_("confirmed"), null=True, blank=True)
    purged_at = models.DateTimeField(_("personal data erased"), null=True, blank=True)

    objects = LetterQuerySet.as_manager()

    class Meta:
        verbose_name = _("letter")
        verbose_name_plural = _("letters")
        ordering = ["-created_at"]
        permissions = [
            ("export_signers", _("Can export signers' personal data")),
            ("view_personal_data", _("Can see residents' names, addresses and messages")),
        ]
        constraints = [
            models.UniqueConstraint(fields=["token"], name="letter_token_unique"),
            models.UniqueConstraint(
                fields=["confirmation_token"], name="letter_confirmation_token_unique"
            ),
            # One confirmed letter per mailbox per campaign per municipality (tests excepted;
            # erased letters have no email and no longer take part). Unconfirmed letters do
            # not hold the place: anyone can type someone else's address, and only the
            # mailbox's owner can confirm. The database decides between two confirmations.
            models.UniqueConstraint(
                fields=["campaign", "municipality", "email_canonical"],
                condition=Q(is_test=False, status="confirmed") & ~Q(email_canonical=""),
                name="one_confirmed_letter_per_sender",
            ),
        ]
        indexes = [
            models.Index(fields=["campaign", "confirmed_at"]),
            # Signature counts (letters.selectors.letter_counts): an index-only scan over just
            # the counted letters of a campaign, in id order for the join with deliveries.
            models.Index(
                fields=["campaign", "id"],
                include=[
                    "municipality",
                    "ward",
                    "confirmed_at",
                    "has_personal_part",
                    "personal_near_duplicate",
                ],
                condition=Q(is_test=False, confirmed_at__isnull=False),
                name="letter_counted_idx",
            ),
            # A sender's letters to one council, whatever their state (the duplicate notice,
            # the pending letters a confirmation withdraws).
            models.Index(
                fields=["campaign", "municipality", "email_canonical"],
                name="letter_sender_lookup",
            ),
            # Held letters (the release every few minutes, the demand page): a few rows among
            # all the letters.
            models.Index(
                fields=["municipality", "campaign"],
                condition=Q(held_since__isnull=False, released_at__isnull=True),
                name="letter_held_idx",
            ),
        ]

    def __str__(self):
        # The admin shows this to staff who may not see the resident's data (breadcrumbs, the
        # delivery's letter, the action checkboxes, the history): no subject, no name.
        return _("Letter #%(id)s to %(municipality)s") % {
            "id": self.pk,
            "municipality": self.municipality.name,
        }

    def status_url(self) -> str:
        # Not get_absolute_url(): the admin's "View on site" redirect (admin/r/<type>/<id>/)
        # would hand any staff member the status token, which deletes the letter.
        return reverse("letters:status", kwargs={"token": self.token})

    @property
    def sender_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()

    @property
    def confirmation_expires_at(self):
        """When the current confirmation link stops working (LETTERS_CONFIRMATION_DAYS)."""
        start = self.confirmation_sent_at or self.created_at
        return start + timedelta(days=settings.LETTERS_CONFIRMATION_DAYS)

    def awaits_confirmation(self) -> bool:
        """Still waiting for its writer to confirm: not confirmed, replaced, withdrawn or
        blocked (the link may have expired: see confirmation_expires_at)."""
        return self.status == self.Status.PENDING_CONFIRMATION and not self.confirmed_at

    UNSUBSCRIBE_SALT = "letters.unsubscribe"

    def unsubscribe_token(self) -> str:
        """What the unsubscribe link of a campaign update carries: signed, and unlike the
        status token it opens nothing else, so a forwarded update gives nobody the letter."""
        return signing.dumps(self.pk, salt=self.UNSUBSCRIBE_SALT)

    @classmethod
    def id_from_unsubscribe_token(cls, value: str) -> int | None:
        """The letter an unsubscribe token names, or None when it was not ours."""
        try:
            return int(signing.loads(value, salt=cls.UNSUBSCRIBE_SALT))
        except (signing.BadSignature, TypeError, ValueError):
            return None

    def goes_to_clerk(self, now=None) -> bool:
        """Whether this letter is also filed with the municipality's clerk as correspondence:
        the campaign does so, its writer agreed to publication, the clerk's address is known,
        and the campaign's deadline for correspondence has not passed."""
        campaign = self.campaign
        deadline = campaign.clerk_deadline
        return bool(
            campaign.clerk_mode != Campaign.ClerkMode.OFF
            and self.publication_consent
            and not self.is_test
            and self.municipality.clerk_email
            and (deadline is None or (now or timezone.now()) <= deadline)
        )

    def new_confirmation_link(self) -> None:
        """Replace the confirmation token (the old link stops working) and restart its
        validity. The caller saves."""
        self.confirmation_token = new_token()
        self.confirmation_sent_at = timezone.now()

    def hold_reason_for(self, *, emailable: bool, now=None) -> str:
        """Why this letter, being confirmed, should wait rather than go out now ("" when it
        goes). emailable: whether any of its recipients has a working address.

        A council with nobody to email holds it only when its writer asked (hold_consent);
        a council whose election passed since its roster was checked holds it when the
        campaign says so (hold_after_election). Test letters are never held.
        """
        if self.is_test:
            return ""
        if not emailable:
            return self.HoldReason.NO_CONTACTS if self.hold_consent else ""
        if self.campaign.hold_after_election and election_since_roster_check(
            self.municipality, now=now
        ):
            return self.HoldReason.ELECTION
        return ""

    def hold(self, reason: str, *, now) -> None:
        """Mark the letter held for this reason (Letter.HoldReason). The caller saves."""
        self.held_since = now
        self.hold_reason = reason
        self.held_for_election = (
            election_since_roster_check(self.municipality, now=now)
            if reason == self.HoldReason.ELECTION
            else None
        )

    def ready_for_release(self, *, emailable: bool, now=None) -> bool:
        """Whether a held letter may go out now: its council's roster was checked after the
        letter was held and has someone to email, no election has passed since that check
        (for a campaign that holds letters after one), and the campaign is not closed."""
        if self.held_since is None or self.released_at or self.purged_at:
            return False
        checked = self.municipality.roster_checked_at
        if checked is None or checked <= self.held_since or not emailable:
            return False
        if self.campaign.phase(now) == "closed":
            return False
        return not (
            self.campaign.hold_after_election
            and election_since_roster_check(self.municipality, now=now)
        )

    def hold_stage(self) -> str:
        """Where a held letter stands: "waiting", "sent" (released), "erased" (its writer's
        data was erased first: never sent), "closed" (the campaign closed first: never
        sent); "" for a letter that was never held."""
        if self.held_since is None:
            return ""
        if self.released_at:
            return "sent"
        if self.purged_at:
            return "erased"
        if self.campaign.phase() == "closed":
            return "closed"
        return "waiting"


class PersonalPartBand(models.Model):
    """One band key of a letter's personal part (letters.near_duplicates): letters sharing a
    key with a new one, in the same municipality, are the candidates for a near-duplicate.
    Erased with the letter's personal data."""

    letter = models.ForeignKey(
        Letter, verbose_name=_("letter"), on_delete=models.CASCADE, related_name="personal_bands"
    )
    # Indexed by personal_band_lookup, which starts with it.
    municipality = models.ForeignKey(
        Municipality,
        verbose_name=_("municipality"),
        on_delete=models.CASCADE,
        related_name="+",
        db_index=False,
    )
    key = models.BigIntegerField(_("band key"))

    class Meta:
        verbose_name = _("personal part band")
        verbose_name_plural = _("personal part bands")
        indexes = [
            models.Index(
                fields=["municipality", "key"], include=["letter"], name="personal_band_lookup"
            )
        ]

    def __str__(self):
        return f"{self.letter_id}:{self.key}"


class Delivery(models.Model):
    """One recipient of one letter, and what became of the email to them."""

    class Status(models.TextChoices):
        PENDING_CONFIRMATION = "pending", _("Waiting for confirmation")
        QUEUED = "queued", _("Queued")
        SENDING = "sending", _("Sending")
        SENT = "sent", _("Sent")
        DELIVERED = "delivered", _("Delivered")
        BOUNCED = "bounced", _("Bounced")
        COMPLAINED = "complained", _("Marked as spam")
        FAILED = "failed", _("Failed")
        NO_EMAIL = "no_email", _("No email address: contact them another way")
        # The council's mail server refused our mail as a policy block: paused.
        HELD = "held", _("Held: the council's mail server blocks our mail")
        # Not sent because the sender deleted their data first (letters.erasure).
        CANCELLED = "cancelled", _("Cancelled: the sender deleted their data")

    letter = models.ForeignKey(
        Letter, verbose_name=_("letter"), on_delete=models.CASCADE, related_name="deliveries"
    )
    representative = models.ForeignKey(
        Representative,
        verbose_name=_("representative"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="deliveries",
    )
    # A snapshot of the recipient as addressed, so later directory edits do not rewrite history.
    recipient_name = models.CharField(_("recipient"), max_length=200)
    recipient_role = models.CharField(_("role"), max_length=200, blank=True)
    recipient_email = models.EmailField(_("recipient email"), blank=True)

    status = models.CharField(
        _("status"),
        max_length=12,
        choices=Status.choices,
        default=Status.PENDING_CONFIRMATION,
    )
    # The email that carries the letter to this recipient (one per recipient, or one for the
    # whole council); a resend of a failed delivery makes a new one.
    mail = models.ForeignKey(
        "OutgoingMail",
        verbose_name=_("email"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="deliveries",
    )

    class Failure(models.TextChoices):
        MAILBOX_UNKNOWN = "unknown", _("Mailbox unknown")
        MAILBOX_FULL = "full", _("Mailbox full")
        POLICY_BLOCK = "blocked", _("Blocked by the receiving server's policy")
        SPAM_COMPLAINT = "complaint", _("Marked as spam")
        OTHER = "other", _("Other permanent failure")

    # The municipality's clerk rather than a representative (correspondence for council).
    to_clerk = models.BooleanField(_("to the clerk"), default=False)
    # What the server or the ESP said last about this recipient (refusal, bounce).
    last_error = models.TextField(_("last error"), blank=True)
    failure = models.CharField(_("failure"), max_length=10, choices=Failure.choices, blank=True)
    # The ESP's id for the message to this recipient, which its webhooks name.
    esp_message_id = models.CharField(_("ESP message id"), max_length=300, blank=True)
    sent_at = models.DateTimeField(_("sent"), null=True, blank=True)
    delivered_at = models.DateTimeField(_("delivered"), null=True, blank=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("delivery")
        verbose_name_plural = _("deliveries")
        ordering = ["letter", "pk"]
        indexes = [
            # Also serves filters on the status alone; no pattern-matching index (db_index=True
            # would add one), as on esp_message_id, which the ESP's webhooks look up whole.
            models.Index(fields=["status", "updated_at"]),
            models.Index(fields=["esp_message_id"], name="delivery_esp_message_idx"),
            # Emails queued before another to the same address (letters.scheduling: first
            # confirmed, first sent); few deliveries are queued at a time.
            models.Index(
                fields=["recipient_email"],
                condition=Q(status="queued"),
                name="delivery_queued_recipient_idx",
            ),
            # Deliveries sent, counted next to the letters (letters.selectors.letter_counts).
            models.Index(
                fields=["letter"],
                condition=Q(status__in=["sent", "delivered"]),
                name="delivery_sent_idx",
            ),
        ]

    def __str__(self):
        return f"{self.recipient_name}: {self.get_status_display()}"

    @property
    def recipient_label(self) -> str:
        """The recipient as residents see them named: "Jane Doe, Councillor", the role left
        out when the name already says it ("Mayor of Toronto")."""
        return person_label(self.recipient_name, self.recipient_role)

    def fallback(self) -> "DeliveryFallback | None":
        """How the resident can reach this recipient when our email did not reach them, or
        cannot now; None while it is on its way, or once it arrived.

        When the council's mail server blocks our mail (the email is held, or was refused on
        policy), the recipient's own address still takes the resident's mail. When it bounced
        or failed, or there is none, their phone and contact form remain. The clerk takes
        correspondence for council either way, when their address is known. Reads the letter's
        municipality and the representative: load them with the delivery.
        """
        municipality = self.letter.municipality
        unreached = self.status in (self.Status.BOUNCED, self.Status.FAILED)
        waiting = self.status in (self.Status.QUEUED, self.Status.SENDING)
        if (
            self.status == self.Status.HELD
            or (unreached and self.failure == self.Failure.POLICY_BLOCK)
            or (waiting and municipality.mail_blocked_at)
        ):
            reason = DeliveryFallback.BLOCKED
        elif unreached:
            reason = DeliveryFallback.BOUNCED
        elif self.status == self.Status.NO_EMAIL:
            reason = DeliveryFallback.NO_EMAIL
        else:
            return None
        rep = self.representative
        return DeliveryFallback(
            reason=reason,
            email=self.recipient_email if reason == DeliveryFallback.BLOCKED else "",
            phone=rep.phone if rep else "",
            contact_url=rep.contact_url if rep else "",
            clerk_email="" if self.to_clerk else municipality.clerk_email,
        )


@dataclass(frozen=True)
class DeliveryFallback:
    """Another way to reach a recipient our email did not reach (Delivery.fallback)."""

    BLOCKED = "blocked"  # the council's mail server refuses our mail, not the resident's
    BOUNCED = "bounced"  # the address refused the letter, or sending failed for good
    NO_EMAIL = "no_email"  # no working address on file

    reason: str
    # The recipient's own address, when only our mail is refused.
    email: str = ""
    phone: str = ""
    contact_url: str = ""
    clerk_email: str = ""

    @property
    def has_ways(self) -> bool:
        return bool(self.email or self.phone or self.contact_url or self.clerk_email)


class OutgoingMailQuerySet(models.QuerySet):
    def due(self, *, now):
        """Queued and due: new, or waiting out a retry's backoff that has passed."""
        return self.filter(status=OutgoingMail.Status.QUEUED, send_after__lte=now)

    def stuck(self, *, before):
        """Left "sending" since before this time: the worker that claimed them died."""
        return self.filter(status=OutgoingMail.Status.SENDING, updated_at__lt=before)

    def to_council(self, municipality):
        """The emails to this council: a letter's, or a digest's or clerk's bundle's, whose
        letters are its deliveries' (once each)."""
        return self.filter(
            Q(letter__municipality=municipality) | Q(deliveries__letter__municipality=municipality)
        ).distinct()


class OutgoingMail(models.Model):
    """One email the app sends, of any kind, and what became of it (letters.sending).

    It is rendered when it is sent, from the rows it belongs to: a letter's exact text stays
    on the letter, so erasing a letter leaves nothing personal here (but the erasure notice's
    address, until that notice is sent).
    """

    class Kind(models.TextChoices):
        LETTER = "letter", _("Letter to council")
        DIGEST = "digest", _("Daily digest to a councillor")
        CLERK = "clerk", _("Correspondence to the clerk")
        TEST = "test", _("Test letter")
        COPY = "copy", _("Resident's copy")
        CONFIRMATION = "confirmation", _("Confirmation link")
        REMINDER = "reminder", _("Reminder of a letter sent")
        FOLLOWUP = "followup", _("Did council reply?")
        UPDATE = "update", _("Campaign update")
        ERASED = "erased", _("Erasure notice")
        HELD = "held", _("Notice of a letter held")
        RELEASED = "released", _("Notice of a held letter sent")
        BLOCKED = "blocked", _("Alert to organizers: a council blocks our mail")

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        SENDING = "sending", _("Sending")
        SENT = "sent", _("Sent")
        FAILED = "failed", _("Failed")
        # Paused: the council's mail server blocks our mail (an organizer resumes it).
        HELD = "held", _("Held")
        # No longer wanted when its turn came (its letter erased, confirmed or replaced).
        CANCELLED = "cancelled", _("Cancelled")

    kind = models.CharField(_("kind"), max_length=12, choices=Kind.choices)
    # A campaign update's text (kind "update"): one update, one email per consenting writer.
    update = models.ForeignKey(
        "CampaignUpdate",
        verbose_name=_("campaign update"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="mails",
    )
    campaign = models.ForeignKey(
        Campaign, verbose_name=_("campaign"), on_delete=models.CASCADE, related_name="mails"
    )
    # The letter it carries or concerns; none for a digest or a clerk's bundle, whose letters
    # are those of its deliveries.
    letter = models.ForeignKey(
        Letter,
        verbose_name=_("letter"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="mails",
    )
    # The council whose mail server blocks ours (kind "blocked" only).
    municipality = models.ForeignKey(
        Municipality,
        verbose_name=_("council"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
    )
    # The erasure notice's address (the letter no longer has it), and the organizer an alert
    # goes to. Cleared once sent.
    to_email = models.EmailField(_("to"), blank=True)
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.QUEUED
    )
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    # Not before this time: a retry's backoff, and later pacing, set it.
    send_after = models.DateTimeField(_("send after"), default=timezone.now)
    last_error = models.TextField(_("last error"), blank=True)
    # The same on every attempt, so a duplicate after a crash is recognisable as one.
    message_id = models.CharField(_("Message-ID"), max_length=300, blank=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    sent_at = models.DateTimeField(_("sent"), null=True, blank=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    objects = OutgoingMailQuerySet.as_manager()

    class Meta:
        verbose_name = _("outgoing email")
        verbose_name_plural = _("outgoing emails")
        ordering = ["-created_at", "-pk"]
        indexes = [
            # The sender's sweep: queued rows by due time, sending rows by age.
            models.Index(fields=["status", "send_after"], name="mail_due_idx"),
            models.Index(fields=["message_id"], name="mail_message_id_idx"),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} #{self.pk}: {self.get_status_display()}"

    def message_id_assign(self, *, from_email: str) -> None:
        """Give the email, once, the Message-ID it keeps on every attempt, so a duplicate
        caused by a crash mid-send carries the same id as the original: random, so it cannot
        be guessed from outside, at the sender's domain. Set before the row is saved
        (letters.services, letters.scheduling), else when the sender first takes it."""
        if not self.message_id:
            domain = from_email.rpartition("@")[2].strip(" >") or "localhost"
            self.message_id = f"<{self.kind}.{secrets.token_hex(12)}@{domain}>"

    def deliveries_sending(self) -> list["Delivery"]:
        """The deliveries this email is being sent to, in order; read with the claim when the
        sender took it (letters.sending), else now."""
        if hasattr(self, "sending_deliveries"):
            return self.sending_deliveries
        return list(self.deliveries.filter(status=Delivery.Status.SENDING).order_by("pk"))


class Reply(models.Model):
    """What a writer reported about one recipient of their letter, answering the follow-up:
    the councillor replied, did not, or replied unsatisfactorily. Personal data: erased with
    the letter (letters.erasure)."""

    class Outcome(models.TextChoices):
        REPLIED = "replied", _("Replied")
        NO_REPLY = "no_reply", _("No reply")
        UNSATISFACTORY = "unsatisfactory", _("Replied, but not satisfactorily")

    delivery = models.OneToOneField(
        Delivery, verbose_name=_("delivery"), on_delete=models.CASCADE, related_name="reply"
    )
    # Copied from the delivery and its letter when the reply is recorded (replies_record), so
    # responsiveness counts replies without joining every delivery and letter
    # (letters.selectors.responsiveness). bench/responsiveness.py, 1,000,000 letters:
    # export_counts --by councillor took 2.2-4.6 s joining them, 1.2-1.6 s with these copies.
    campaign = models.ForeignKey(
        Campaign,
        verbose_name=_("campaign"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="replies",
        db_index=False,  # the index in Meta starts with the campaign
    )
    letter = models.ForeignKey(
        Letter,
        verbose_name=_("letter"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
    )
    municipality = models.ForeignKey(
        Municipality,
        verbose_name=_("municipality"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
    )
    representative = models.ForeignKey(
        Representative,
        verbose_name=_("representative"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
    )
    delivery_sent_at = models.DateTimeField(_("letter sent"), null=True, blank=True)
    outcome = models.CharField(_("outcome"), max_length=15, choices=Outcome.choices)
    replied_on = models.DateField(_("replied on"), null=True, blank=True)
    summary = models.TextField(_("summary or answer"), blank=True)
    # The writer agrees that the summary may be shown publicly (without their name).
    may_publish = models.BooleanField(_("may be published"), default=False)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("reply")
        verbose_name_plural = _("replies")
        indexes = [models.Index(fields=["campaign", "representative"], name="reply_campaign_idx")]

    def __str__(self):
        return f"{self.delivery.recipient_name}: {self.get_outcome_display()}"

    def copy_from(self, delivery: Delivery) -> None:
        """Copy what responsiveness counts by from the delivery and its letter (load the
        letter with it). The caller saves."""
        self.delivery = delivery
        self.campaign_id = delivery.letter.campaign_id
        self.letter_id = delivery.letter_id
        self.municipality_id = delivery.letter.municipality_id
        self.representative_id = delivery.representative_id
        self.delivery_sent_at = delivery.sent_at

    @property
    def days_to_reply(self) -> int | None:
        """Days from the letter reaching the recipient to their reply, when both are known."""
        sent = self.delivery.sent_at
        if self.outcome == self.Outcome.NO_REPLY or not (sent and self.replied_on):
            return None
        return max(0, (self.replied_on - timezone.localdate(sent)).days)


class CampaignUpdate(models.Model):
    """News an organizer sends once to the writers who asked to be kept updated, and to
    nobody else (letters.replies_and_updates.campaign_update_send)."""

    campaign = models.ForeignKey(
        Campaign, verbose_name=_("campaign"), on_delete=models.CASCADE, related_name="updates"
    )
    subject_en = models.CharField(_("subject (English)"), max_length=200)
    subject_fr = models.CharField(_("subject (French)"), max_length=200, blank=True)
    body_en = models.TextField(_("text (English)"), help_text=_("Plain text."))
    body_fr = models.TextField(_("text (French)"), blank=True, help_text=_("Plain text."))
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    sent_at = models.DateTimeField(_("sent"), null=True, blank=True)
    recipients = models.PositiveIntegerField(_("recipients"), default=0)

    class Meta:
        verbose_name = _("campaign update")
        verbose_name_plural = _("campaign updates")
        ordering = ["-created_at"]
        permissions = [("send_campaignupdate", _("Can send campaign updates to residents"))]

    def __str__(self):
        return self.subject_en

    def subject(self, language: str) -> str:
        return (self.subject_fr if language == "fr" else "") or self.subject_en

    def body(self, language: str) -> str:
        return (self.body_fr if language == "fr" else "") or self.body_en


class RecipientPace(models.Model):
    """When a recipient may next receive a letter from this app, across all campaigns
    (letters.scheduling). One row per address; the lock on it orders letters fairly."""

    address = models.CharField(_("address"), max_length=254)
    next_slot = models.DateTimeField(_("next free slot"))
    # When the sender last took an email to this address (letters.sending): a sender that
    # runs late still spaces the next one by the interval instead of catching up in a burst.
    last_sent_at = models.DateTimeField(_("last sent"), null=True, blank=True)

    class Meta:
        verbose_name = _("recipient pace")
        verbose_name_plural = _("recipient paces")
        constraints = [
            models.UniqueConstraint(fields=["address"], name="recipient_pace_address_unique")
        ]

    def __str__(self):
        return f"{self.address}: {self.next_slot:%Y-%m-%d %H:%M}"


class BlockedSender(models.Model):
    """An email address or IP address that organizers have blocked from sending letters."""

    class Kind(models.TextChoices):
        EMAIL = "email", _("Email address")
        IP = "ip", _("IP address")

    kind = models.CharField(_("kind"), max_length=5, choices=Kind.choices)
    value = models.CharField(_("value"), max_length=254)
    reason = models.CharField(_("reason"), max_length=300, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("blocked sender")
        verbose_name_plural = _("blocked senders")
        constraints = [models.UniqueConstraint(fields=["kind", "value"], name="unique_block")]

    def __str__(self):
        return f"{self.get_kind_display()}: {self.value}"


class TokenBucket(models.Model):
    """A small database token bucket for abuse limits (per IP, per email address)."""

    key = models.CharField(max_length=100)
    tokens = models.FloatField()
    updated_at = models.DateTimeField()

    class Meta:
        # A constraint rather than unique=True, which would add a pattern-matching index on
        # PostgreSQL, written for every new sender and never read.
        constraints = [models.UniqueConstraint(fields=["key"], name="token_bucket_key_unique")]

    def __str__(self):
        return self.key

    @staticmethod
    def hash_key(kind: str, value: str) -> str:
        """A bucket key that does not store the IP or email itself.

        A plain salted SHA-256: a slow password hash here would cap the form at a few posts
        per second.
        """
        salt = settings.SECRET_KEY.encode()
        digest = hashlib.sha256(salt + b"|" + value.strip().lower().encode()).hexdigest()
        return f"{kind}:{digest}"

    @classmethod
    def authorize_many(cls, buckets: list[tuple[str, int, float]], *, now=None) -> set[str]:
        """Take one token from each bucket (key, capacity, refill per second); the keys of the
        empty ones come back. Each bucket is independent: an empty one does not keep the
        others from giving a token.

        A bucket starts full and refills continuously; an empty one keeps counting its refill
        from its last change. Rows are locked in key order while read and written, so two
        requests at once cannot both take the last token, nor deadlock.
        """
        now = now or timezone.now()
        wanted = sorted({bucket[0]: bucket for bucket in buckets}.values())
        refused = {key for key, capacity, _refill in wanted if capacity < 1}
        with transaction.atomic():
            for key, capacity, refill_per_second in wanted:
                if key in refused:
                    continue
                # A new bucket starts full, less the token taken now: no second write.
                bucket, created = cls.objects.select_for_update().get_or_create(
                    key=key, defaults={"tokens": float(capacity) - 1, "updated_at": now}
                )
                if created:
                    continue
                elapsed = max(0.0, (now - bucket.updated_at).total_seconds())
                tokens = min(float(capacity), bucket.tokens + elapsed * refill_per_second)
                if tokens < 1:
                    refused.add(key)
                    continue
                bucket.tokens, bucket.updated_at = tokens - 1, now
                bucket.save(update_fields=["tokens", "updated_at"])
        return refused


class SignerExportLog(models.Model):
    """One export of a campaign's signers (personal data): who, when, how many rows."""

    class Source(models.TextChoices):
        ADMIN = "admin", _("Admin download")
        COMMAND = "command", _("Management command")

    campaign = models.ForeignKey(
        Campaign,
        verbose_name=_("campaign"),
        on_delete=models.CASCADE,
        related_name="signer_exports",
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("user"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="signer_exports",
    )
    # Kept as text as well, so the log still names the person after their account is deleted,
    # and names the operating-system user for exports run from the command line.
    actor = models.CharField(_("exported by"), max_length=150)
    source = models.CharField(_("source"), max_length=10, choices=Source.choices)
    consented_only = models.BooleanField(_("consented only"), default=False)
    rows = models.PositiveIntegerField(_("rows"), default=0)
    started_at = models.DateTimeField(_("started"), default=timezone.now, db_index=True)
    # Empty when the export stopped early (download interrupted, error).
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)

    class Meta:
        verbose_name = _("signer export")
        verbose_name_plural = _("signer exports")
        ordering = ["-started_at"]

    def __str__(self):
        return f"{self.campaign.slug} by {self.actor} ({self.rows})"


class OutboxMessage(models.Model):
    """An email kept on this machine by the embedded default's mail backend, for the admin."""

    message_id = models.CharField(_("Message-ID"), max_length=300, blank=True, db_index=True)
    from_email = models.CharField(_("from"), max_length=300)
    to = models.TextField(_("to"))
    reply_to = models.TextField(_("reply to"), blank=True)
    subject = models.CharField(_("subject"), max_length=300)
    body = models.TextField(_("text"))
    html = models.TextField(_("HTML"), blank=True)
    raw = models.TextField(_("raw message"))
    created_at = models.DateTimeField(_("created"), default=timezone.now, db_index=True)

    class Meta:
        verbose_name = _("outbox message")
        verbose_name_plural = _("outbox messages")
        ordering = ["-created_at", "-pk"]

    def __str__(self):
        return self.subject
