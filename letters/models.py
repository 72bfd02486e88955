import functools
import hashlib
import secrets
from contextlib import nullcontext

from django.conf import settings
from django.db import connection, models, transaction
from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from campaigns.models import Campaign
from councils.models import Municipality, Representative, Ward


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


class Letter(models.Model):
    class Status(models.TextChoices):
        PENDING_CONFIRMATION = "pending", _("Waiting for email confirmation")
        CONFIRMED = "confirmed", _("Confirmed")
        BLOCKED = "blocked", _("Blocked")
        # The sender deleted their data before confirming: never sent, never counted.
        WITHDRAWN = "withdrawn", _("Withdrawn by the sender")

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

    # The letter exactly as it was sent.
    subject = models.CharField(_("subject"), max_length=300)
    body = models.TextField(_("body"))
    personal_message = models.TextField(_("personal message"), blank=True)
    talking_points = models.JSONField(_("talking points added"), default=list, blank=True)

    created_at = models.DateTimeField(_("created"), default=timezone.now, db_index=True)
    confirmation_sent_at = models.DateTimeField(_("confirmation sent"), null=True, blank=True)
    # When the email with the current link went out (None: not yet, or a new link is due).
    confirmation_emailed_at = models.DateTimeField(_("confirmation emailed"), null=True, blank=True)
    confirmed_at = models.DateTimeField(_("confirmed"), null=True, blank=True)
    copy_sent_at = models.DateTimeField(_("copy sent"), null=True, blank=True)
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
                include=["municipality", "ward", "confirmed_at"],
                condition=Q(is_test=False, confirmed_at__isnull=False),
                name="letter_counted_idx",
            ),
            # A sender's letters to one council, whatever their state (the duplicate notice,
            # the pending letters a confirmation withdraws).
            models.Index(
                fields=["campaign", "municipality", "email_canonical"],
                name="letter_sender_lookup",
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

    def insert_with_deliveries(self, deliveries: list["Delivery"]) -> None:
        """Insert this new letter and its deliveries, all or nothing.

        On PostgreSQL one statement does it (a data-modifying WITH), which is atomic on its
        own: no BEGIN and COMMIT round trips on the hot path of every letter sent. Elsewhere,
        save() and bulk_create() in a transaction. Raises IntegrityError like save().
        """
        if connection.vendor != "postgresql":
            with transaction.atomic():
                self.save()
                for delivery in deliveries:
                    delivery.letter = self
                Delivery.objects.bulk_create(deliveries)
            return
        # Inside a caller's transaction, a savepoint, so that a refused letter (the unique
        # constraint) does not spoil it.
        with transaction.atomic() if connection.in_atomic_block else nullcontext():
            self._insert_with_deliveries_postgresql(deliveries)

    def _insert_with_deliveries_postgresql(self, deliveries: list["Delivery"]) -> None:
        letter_fields, delivery_fields, sql = _insert_statement(len(deliveries))
        params = [f.get_db_prep_save(f.pre_save(self, True), connection) for f in letter_fields]
        for delivery in deliveries:
            params += [
                f.get_db_prep_save(f.pre_save(delivery, True), connection) for f in delivery_fields
            ]
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            rows = cursor.fetchall()
        self.pk = rows[0][0]
        self._state.adding, self._state.db = False, connection.alias
        # Without deliveries the one row is (letter id, NULL).
        for delivery, (_letter_id, delivery_id) in zip(deliveries, rows, strict=False):
            delivery.letter, delivery.pk = self, delivery_id
            delivery._state.adding, delivery._state.db = False, connection.alias


@functools.cache
def _insert_statement(deliveries: int) -> tuple[list, list, str]:
    """Letter.insert_with_deliveries()'s fields and PostgreSQL statement, built once per
    number of deliveries."""
    letter_fields = [f for f in Letter._meta.concrete_fields if not f.primary_key]
    delivery_fields = [
        f for f in Delivery._meta.concrete_fields if not f.primary_key and f.name != "letter"
    ]
    quote = connection.ops.quote_name

    def placeholders(fields) -> str:
        return "(" + ", ".join(f"%s::{f.db_type(connection)}" for f in fields) + ")"

    def columns(fields) -> str:
        return ", ".join(quote(f.column) for f in fields)

    sql = (
        f"WITH new_letter AS (INSERT INTO {quote(Letter._meta.db_table)}"
        f" ({columns(letter_fields)}) VALUES {placeholders(letter_fields)} RETURNING id)"
    )
    if deliveries:
        names = ", ".join(f"c{n}" for n in range(len(delivery_fields)))
        sql += (
            f" INSERT INTO {quote(Delivery._meta.db_table)}"
            f" ({quote('letter_id')}, {columns(delivery_fields)})"
            f" SELECT new_letter.id, {names} FROM new_letter CROSS JOIN"
            f" (VALUES {', '.join([placeholders(delivery_fields)] * deliveries)})"
            f" AS rows ({names}) RETURNING letter_id, id"
        )
    else:
        sql += " SELECT id, NULL FROM new_letter"
    return letter_fields, delivery_fields, sql


class DeliveryQuerySet(models.QuerySet):
    def stuck(self, *, older_than):
        """Queued or sending since before older_than, so their task was lost.

        A queued delivery waiting for a retry counts from when that retry is due.
        """
        return self.filter(
            Q(status=Delivery.Status.SENDING, updated_at__lt=older_than)
            | Q(
                status=Delivery.Status.QUEUED,
                next_attempt_at__isnull=True,
                updated_at__lt=older_than,
            )
            | Q(status=Delivery.Status.QUEUED, next_attempt_at__lt=older_than)
        )


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
        # Not sent because the sender deleted their data first (letters.privacy).
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
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    last_error = models.TextField(_("last error"), blank=True)
    message_id = models.CharField(_("Message-ID"), max_length=300, blank=True)
    esp_message_id = models.CharField(_("ESP message id"), max_length=300, blank=True)
    queued_at = models.DateTimeField(_("queued"), null=True, blank=True)
    # When a retry after a transient failure is due (None: not waiting for a retry).
    next_attempt_at = models.DateTimeField(_("next attempt"), null=True, blank=True)
    sent_at = models.DateTimeField(_("sent"), null=True, blank=True)
    delivered_at = models.DateTimeField(_("delivered"), null=True, blank=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    objects = DeliveryQuerySet.as_manager()

    class Meta:
        verbose_name = _("delivery")
        verbose_name_plural = _("deliveries")
        ordering = ["letter", "pk"]
        indexes = [
            # Also serves filters on the status alone; no pattern-matching index (db_index=True
            # would add one), as on esp_message_id, which the ESP's webhooks look up whole.
            models.Index(fields=["status", "updated_at"]),
            models.Index(fields=["esp_message_id"], name="delivery_esp_message_idx"),
            # Deliveries sent, counted next to the letters (letters.selectors.letter_counts).
            models.Index(
                fields=["letter"],
                condition=Q(status__in=["sent", "delivered"]),
                name="delivery_sent_idx",
            ),
        ]

    def __str__(self):
        return f"{self.recipient_name}: {self.get_status_display()}"


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
    def authorize(cls, *, key: str, capacity: int, refill_per_second: float, now=None) -> bool:
        """Take one token from the bucket named key; False when it is empty.

        A bucket starts full (capacity tokens) and refills continuously. The row is locked
        while it is read and written, so two requests at once cannot both take the last token.
        """
        refused = cls.authorize_many([(key, capacity, refill_per_second)], now=now)
        return key not in refused

    @classmethod
    def authorize_many(cls, buckets: list[tuple[str, int, float]], *, now=None) -> set[str]:
        """Take one token from each bucket (key, capacity, refill per second) at once; the
        keys of the empty ones come back. Each bucket is independent: an empty one does not
        keep the others from giving a token."""
        now = now or timezone.now()
        buckets, refused = cls.buckets_to_take(buckets)
        if not buckets:
            return refused
        if connection.vendor == "postgresql":
            return refused | cls._authorize_upsert(buckets, now=now)
        with transaction.atomic():
            for key, capacity, refill_per_second in buckets:
                bucket, _created = cls.objects.select_for_update().get_or_create(
                    key=key, defaults={"tokens": float(capacity), "updated_at": now}
                )
                elapsed = max(0.0, (now - bucket.updated_at).total_seconds())
                tokens = min(float(capacity), bucket.tokens + elapsed * refill_per_second)
                if tokens >= 1:
                    bucket.tokens = tokens - 1
                else:
                    bucket.tokens = tokens
                    refused.add(key)
                bucket.updated_at = now
                bucket.save(update_fields=["tokens", "updated_at"])
        return refused

    @staticmethod
    def buckets_to_take(
        buckets: list[tuple[str, int, float]],
    ) -> tuple[list[tuple[str, int, float]], set[str]]:
        """The buckets to take a token from, one per key in key order (one lock order for
        every caller: no deadlock), and the keys refused outright (no capacity)."""
        buckets = sorted({bucket[0]: bucket for bucket in buckets}.values())
        refused = {key for key, capacity, _refill in buckets if capacity < 1}
        return [bucket for bucket in buckets if bucket[0] not in refused], refused

    @classmethod
    def _authorize_upsert(cls, buckets: list[tuple[str, int, float]], *, now) -> set[str]:
        """authorize_many() in one PostgreSQL statement (the form's hot path): insert full
        buckets less one token, or refill and take one from the existing rows. An empty bucket
        is left untouched (its refill counts on from updated_at), so its key does not come
        back: refused."""
        table = connection.ops.quote_name(cls._meta.db_table)
        capacity = "(SELECT v.capacity FROM v WHERE v.key = b.key)"
        refill = "(SELECT v.refill FROM v WHERE v.key = b.key)"
        available = (
            f"LEAST({capacity}, b.tokens"
            f" + EXTRACT(EPOCH FROM (%s - b.updated_at))::float8 * {refill})"
        )
        rows = ", ".join(["(%s::varchar, %s::float8, %s::float8)"] * len(buckets))
        sql = (
            f"WITH v(key, capacity, refill) AS (VALUES {rows})"
            f" INSERT INTO {table} AS b (key, tokens, updated_at)"
            " SELECT v.key, v.capacity - 1, %s FROM v ORDER BY v.key"
            f" ON CONFLICT (key) DO UPDATE SET tokens = {available} - 1, updated_at = %s"
            f" WHERE {available} >= 1 RETURNING b.key"
        )
        params = [value for bucket in buckets for value in bucket] + [now, now, now, now]
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            allowed = {row[0] for row in cursor.fetchall()}
        return {key for key, _capacity, _refill in buckets} - allowed


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
