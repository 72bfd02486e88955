import statistics
from datetime import date

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.db.models import (
    Aggregate,
    Count,
    Exists,
    F,
    FloatField,
    Func,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Value,
)
from django.db.models.functions import Greatest, TruncDate
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext_lazy
from localflavor.ca.ca_provinces import PROVINCE_CHOICES

from campaigns.models import Campaign
from councils.models import Municipality, Representative, Ward

from . import near_duplicates
from .models import BlockedSender, Delivery, Letter, PersonalPartBand, Reply, canonical_email

# --- Signature counts -------------------------------------------------------------------------

COUNT_GROUPINGS = ("municipality", "province", "ward", "day")

# A delivery counts as sent once the email left us; "delivered" is a later state of the same.
SENT_STATUSES = (Delivery.Status.SENT, Delivery.Status.DELIVERED)


def _group_columns(by: str, prefix: str = "") -> dict:
    """The GROUP BY columns of a grouping, as values() keyword arguments.

    Only ids and the day are grouped on; names are joined in afterwards for municipality and
    ward, so PostgreSQL aggregates narrow rows and joins the (few) groups, not every letter.
    """
    if by == "municipality":
        return {"municipality_id": F(f"{prefix}municipality_id")}
    if by == "ward":
        return {
            "municipality_id": F(f"{prefix}municipality_id"),
            "ward_id": F(f"{prefix}ward_id"),
        }
    if by == "province":
        return {"province": F(f"{prefix}municipality__province")}
    if by == "day":
        return {"day": TruncDate(f"{prefix}confirmed_at", tzinfo=timezone.get_default_timezone())}
    raise ValueError(f"Unknown grouping {by!r}; choose one of {', '.join(COUNT_GROUPINGS)}.")


def _values(queryset, columns: dict):
    # A column named like the model's own field (municipality_id on Letter) is passed by
    # name: values() refuses an expression alias that shadows a field.
    names = [alias for alias, expression in columns.items() if expression == F(alias)]
    expressions = {alias: e for alias, e in columns.items() if alias not in names}
    return queryset.values(*names, **expressions)


def letter_counts(*, campaign: Campaign, by: str, with_deliveries: bool = True) -> list[dict]:
    """Counted letters (confirmed, not tests) of a campaign per municipality, province, ward or day.

    Each row has the grouping's columns, "letters", "personal" (those with a personal part),
    "near_identical" (those whose personal part was nearly identical to one already sent to
    the same councillors) and "deliveries_sent" (deliveries of those letters with status sent
    or delivered). The numbers come from GROUP BY queries: one over letters and one over
    deliveries. Counting both in one query over a letters-deliveries join
    would multiply each letter by its number of recipients (or need COUNT(DISTINCT), which
    sorts every row). Rows are ordered by day for "day", else by letters, most first.

    Raises ValueError for an unknown grouping.
    """
    columns = _group_columns(by)
    letters = (
        _values(Letter.objects.counted().filter(campaign=campaign), columns)
        .annotate(
            letters=Count("*"),
            personal=Count("pk", filter=Q(has_personal_part=True)),
            near_identical=Count("pk", filter=Q(personal_near_duplicate=True)),
        )
        .order_by()
    )
    rows = {tuple(row[key] for key in columns): row for row in letters}

    if with_deliveries:
        sent = (
            Delivery.objects.filter(
                letter__campaign=campaign,
                letter__is_test=False,
                letter__confirmed_at__isnull=False,
                status__in=SENT_STATUSES,
            )
            .values(**_group_columns(by, prefix="letter__"))
            .annotate(deliveries_sent=Count("*"))
            .order_by()
        )
        for group in sent:
            row = rows.get(tuple(group[key] for key in columns))
            if row is not None:
                row["deliveries_sent"] = group["deliveries_sent"]
    for row in rows.values():
        row.setdefault("deliveries_sent", 0)

    result = list(rows.values())
    _add_names(result, by)
    if by == "day":
        result.sort(key=lambda row: row["day"])
    else:
        result.sort(key=lambda row: (-row["letters"], row.get("name") or ""))
    return result


def _add_names(rows: list[dict], by: str) -> None:
    if by == "province":
        names = dict(PROVINCE_CHOICES)
        for row in rows:
            row["name"] = str(names.get(row["province"], row["province"]))
        return
    if by not in ("municipality", "ward"):
        return
    municipalities = Municipality.objects.in_bulk(
        {row["municipality_id"] for row in rows}, field_name="pk"
    )
    wards = (
        Ward.objects.in_bulk({row["ward_id"] for row in rows if row["ward_id"]})
        if by == "ward"
        else {}
    )
    for row in rows:
        municipality = municipalities[row["municipality_id"]]
        row["ocd_id"] = municipality.ocd_id
        row["name"] = municipality.name
        row["province"] = municipality.province
        if by == "ward":
            ward = wards.get(row["ward_id"])
            row["ward_ocd_id"] = ward.ocd_id if ward else ""
            row["ward_name"] = ward.name if ward else ""


# Long enough that a busy campaign page does not count a million rows per visitor, short
# enough that a resident sees their letter counted within a minute.
COUNTS_CACHE_SECONDS = 60


def counts_cache_key(slug: str) -> str:
    return f"letters:counts-json:{slug}"


def public_counts(*, slug: str) -> dict | None:
    """A live or closed campaign's counts for counts.json (total, goal, per province), cached
    for COUNTS_CACHE_SECONDS; None when there is no such public campaign."""
    data = cache.get(counts_cache_key(slug))
    if data is None:
        campaign = Campaign.objects.public().filter(slug=slug).first()
        if campaign is None:
            return None
        provinces = letter_counts(campaign=campaign, by="province", with_deliveries=False)
        data = {
            "campaign": campaign.slug,
            "total": sum(row["letters"] for row in provinces),
            "goal": campaign.goal,
            "provinces": {
                row["province"]: row["letters"]
                for row in sorted(provinces, key=lambda row: row["province"])
            },
        }
        cache.set(counts_cache_key(slug), data, COUNTS_CACHE_SECONDS)
    return data


def letters_per_day(*, campaign: Campaign) -> list[tuple[date, int]]:
    """Counted letters per day in the site's time zone, every day from the first to the last."""
    counts = {
        row["day"]: row["letters"]
        for row in letter_counts(campaign=campaign, by="day", with_deliveries=False)
    }
    if not counts:
        return []
    first, last = min(counts), max(counts)
    days = []
    day = first
    while day <= last:
        days.append((day, counts.get(day, 0)))
        day = date.fromordinal(day.toordinal() + 1)
    return days


def delivery_health(*, campaign: Campaign) -> dict[str, int]:
    """Deliveries of a campaign's real (non-test) letters per status, every status present."""
    counts = dict(
        Delivery.objects.filter(letter__campaign=campaign, letter__is_test=False)
        .values_list("status")
        .annotate(n=Count("pk"))
        .order_by()
    )
    return {status: counts.get(status, 0) for status in Delivery.Status.values}


def delivery_health_counts(*, campaign_ids: list[int] | None = None) -> list[dict]:
    """Delivery counts per campaign and status, for the admin's health table."""
    rows = Delivery.objects.all()
    if campaign_ids is not None:
        rows = rows.filter(letter__campaign_id__in=campaign_ids)
    counts = (
        rows.values("letter__campaign_id", "letter__campaign__slug", "status")
        .annotate(n=Count("pk"))
        .order_by("letter__campaign__slug")
    )
    table: dict[int, dict] = {}
    for row in counts:
        entry = table.setdefault(
            row["letter__campaign_id"],
            {
                "campaign_id": row["letter__campaign_id"],
                "slug": row["letter__campaign__slug"],
                "counts": {},
                "total": 0,
            },
        )
        entry["counts"][row["status"]] = row["n"]
        entry["total"] += row["n"]
    return list(table.values())


def council_delivery_counts() -> list[dict]:
    """Per council that letters went to: deliveries sent (or delivered), due (queued or being
    sent), held, bounced and failed, and whether its mail server blocks ours; blocked and
    held councils first."""
    counts = (
        Delivery.objects.filter(letter__is_test=False)
        .values("letter__municipality_id")
        .annotate(
            sent=Count("pk", filter=Q(status__in=SENT_STATUSES)),
            due=Count("pk", filter=Q(status__in=[Delivery.Status.QUEUED, Delivery.Status.SENDING])),
            held=Count("pk", filter=Q(status=Delivery.Status.HELD)),
            bounced=Count(
                "pk", filter=Q(status__in=[Delivery.Status.BOUNCED, Delivery.Status.COMPLAINED])
            ),
            failed=Count("pk", filter=Q(status=Delivery.Status.FAILED)),
        )
        .order_by()
    )
    rows = {row["letter__municipality_id"]: row for row in counts}
    municipalities = Municipality.objects.in_bulk(list(rows))
    table = []
    for pk, row in rows.items():
        municipality = municipalities[pk]
        table.append({**row, "municipality": municipality})
    table.sort(
        key=lambda row: (
            row["municipality"].mail_blocked_at is None,
            -row["held"],
            -row["due"],
            row["municipality"].name,
        )
    )
    return table


def councils_waiting(*, campaign: Campaign | None = None) -> list[dict]:
    """Councils without contacts and the residents waiting for them, most waiting first:
    every municipality with held letters still waiting (Letter.objects.held), or with counted
    letters and nobody to email (no active representative with a working address).

    Each row: municipality, waiting (held letters), after_election (of those, held for a new
    council after an election), letters (counted letters, held or not) and has_contacts.
    Counted letters of one campaign, or of every campaign; no personal data.
    """
    held = Q(held_since__isnull=False, released_at__isnull=True, purged_at__isnull=True)
    letters = Letter.objects.counted()
    if campaign is not None:
        letters = letters.filter(campaign=campaign)
    groups = list(
        letters.values("municipality_id")
        .annotate(
            letters=Count("*"),
            waiting=Count("pk", filter=held),
            after_election=Count("pk", filter=held & Q(hold_reason=Letter.HoldReason.ELECTION)),
        )
        .order_by()
    )
    ids = [group["municipality_id"] for group in groups]
    with_contacts = set(
        Representative.objects.active()
        .filter(municipality_id__in=ids, bounce_count__lt=Representative.BOUNCE_LIMIT)
        .exclude(email="")
        .values_list("municipality_id", flat=True)
        .distinct()
    )
    rows = [
        {**group, "has_contacts": group["municipality_id"] in with_contacts}
        for group in groups
        if group["waiting"] or group["municipality_id"] not in with_contacts
    ]
    municipalities = Municipality.objects.in_bulk([row["municipality_id"] for row in rows])
    for row in rows:
        row["municipality"] = municipalities[row["municipality_id"]]
    rows.sort(key=lambda row: (-row["waiting"], -row["letters"], row["municipality"].name))
    return rows


def signer_export_queryset(*, campaign: Campaign, consented_only: bool = False) -> QuerySet:
    """Counted letters whose sender's personal data still exists, in the order they came in."""
    queryset = Letter.objects.counted().filter(campaign=campaign, purged_at__isnull=True)
    if consented_only:
        queryset = queryset.filter(consent_given=True)
    return queryset.order_by("pk")


# --- Responsiveness ---------------------------------------------------------------------------

# What writers reported: the councillor answered (well or not).
REPLIED_OUTCOMES = (Reply.Outcome.REPLIED, Reply.Outcome.UNSATISFACTORY)
RESPONSIVENESS_GROUPINGS = ("council", "councillor")
# Shown next to the figures wherever they appear (staff page, campaign page, the command).
RESPONSIVENESS_CAVEAT = gettext_lazy(
    "Volumes differ from one council to another, and only residents who answered the "
    "follow-up are counted: these figures are not response rates."
)


class _DaysBetween(Func):
    """Whole days from the second date to the first (PostgreSQL: date - date is an integer)."""

    arg_joiner = " - "
    template = "(%(expressions)s)"
    output_field = IntegerField()

    def as_sqlite(self, compiler, connection, **extra_context):
        return self.as_sql(
            compiler,
            connection,
            template="CAST(julianday(%(expressions)s) AS INTEGER)",
            arg_joiner=") - julianday(",
            **extra_context,
        )


class _Median(Aggregate):
    """The median (PERCENTILE_CONT(0.5)), PostgreSQL only: other databases get the median
    from the values themselves (responsiveness)."""

    function = "PERCENTILE_CONT"
    template = "%(function)s(0.5) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = FloatField()


def _reply_days(replied_on: str, sent_at: str) -> Greatest:
    """Days from the delivery going out (its date in the site's time zone) to the reported
    reply, never below 0 (Reply.days_to_reply). Only for replies with a date: PostgreSQL's
    GREATEST reads a missing date as 0 days."""
    sent_on = TruncDate(sent_at, tzinfo=timezone.get_default_timezone())
    return Greatest(
        _DaysBetween(F(replied_on), sent_on, output_field=IntegerField()),
        Value(0),
        output_field=IntegerField(),
    )


def _reached(campaign: Campaign) -> QuerySet:
    """Deliveries of a campaign's counted letters (confirmed, not tests; erased ones too, as
    their counts survive) that went out to a representative (the clerk's copy excluded)."""
    return Delivery.objects.filter(
        letter__campaign=campaign,
        letter__is_test=False,
        letter__confirmed_at__isnull=False,
        status__in=SENT_STATUSES,
        to_clerk=False,
    )


def _answered(campaign: Campaign) -> QuerySet:
    """The replies writers reported about the campaign's letters. Each reply carries its
    delivery's campaign, letter, municipality, representative and sending time
    (Reply.copy_from), and exists only for a delivery that went out to a representative of
    a counted letter (letters.replies_and_updates.replies_record): counting them joins nothing. (A
    delivery reported on and later marked bounced by its ESP keeps its reply counted.)"""
    return Reply.objects.filter(campaign=campaign)


def _python_medians(replies: QuerySet, columns: list[str]) -> dict[tuple, float]:
    """The median days to a reply per group, from the days of each dated reply: for
    databases without PERCENTILE_CONT (SQLite: the tests and the embedded default)."""
    dated = replies.filter(outcome__in=REPLIED_OUTCOMES, replied_on__isnull=False)
    days: dict[tuple, list[int]] = {}
    expression = _reply_days("replied_on", "delivery_sent_at")
    for row in dated.values(*columns, days=expression).order_by():
        days.setdefault(tuple(row[name] for name in columns), []).append(row["days"])
    return {key: float(statistics.median(values)) for key, values in days.items()}


def _reply_figures(campaign: Campaign, column: str, *, per_letter: bool) -> dict[tuple, dict]:
    """Per value of column (municipality_id or representative_id): "answered" and "replied"
    (letters counted once each with per_letter, else replies), and "median_days" (the
    median over the dated replies of that group, PERCENTILE_CONT on PostgreSQL)."""
    replies = _answered(campaign)
    replied = Q(outcome__in=REPLIED_OUTCOMES)
    if per_letter:
        counts = {
            "answered": Count("letter_id", distinct=True),
            "replied": Count("letter_id", distinct=True, filter=replied),
        }
    else:
        counts = {"answered": Count("*"), "replied": Count("pk", filter=replied)}
    postgres = connection.vendor == "postgresql"
    if postgres:
        # Replies without a date are left out (PostgreSQL's GREATEST skips a NULL, so their
        # days would read 0).
        days = _reply_days("replied_on", "delivery_sent_at")
        counts["median_days"] = _Median(days, filter=replied & Q(replied_on__isnull=False))
    figures = {(row[column],): row for row in replies.values(column).annotate(**counts).order_by()}
    if not postgres:
        for key, median in _python_medians(replies, [column]).items():
            figures[key]["median_days"] = median
    return figures


def _council_rows(campaign: Campaign) -> list[dict]:
    """Per council: counted letters with a delivery that reached a representative (a
    semi-join, so each letter counts once), then the replies, each letter counted once."""
    delivered = (
        Letter.objects.counted()
        .filter(campaign=campaign)
        .filter(Exists(_reached(campaign).filter(letter=OuterRef("pk"))))
        .values("municipality_id")
        .annotate(delivered=Count("*"))
        .order_by()
    )
    figures = _reply_figures(campaign, "municipality_id", per_letter=True)
    return [{**figures.get((row["municipality_id"],), {}), **row} for row in delivered]


def _councillor_rows(campaign: Campaign) -> list[dict]:
    """Per representative (named with their own council, which for a regional councillor
    is not every writer's municipality): the deliveries that reached them, grouped on the
    representative alone (whose number PostgreSQL estimates well: a pair of columns made it
    sort every delivery), then their replies.

    The replies carry what they are counted by (Reply.copy_from), so the only big query is
    the one over the deliveries, as for the signature counts. bench/responsiveness.py: the
    export at a million letters took 2.2 to 3.6 s with the replies joined to every delivery
    and letter (one query, or three), on a machine where the signature counts took 1.2 to
    1.6 s; see its note for the figure now."""
    # No .iterator(): PostgreSQL plans a server-side cursor for its first rows, and chose
    # nested loops over every delivery (14 s instead of about 1 s at a million letters).
    delivered = _reached(campaign).values("representative_id").annotate(delivered=Count("*"))
    figures = _reply_figures(campaign, "representative_id", per_letter=False)
    return [{**figures.get((row["representative_id"],), {}), **row} for row in delivered.order_by()]


def responsiveness(*, campaign: Campaign, by: str) -> list[dict]:
    """What writers reported of council's replies, per council or per councillor.

    Each row: "delivered" (letters that reached the council, or this councillor), "answered"
    (of those, letters whose writer answered the follow-up about the council, or about this
    councillor), "replied" (of those, letters whose writer reported a reply: from at least
    one member, for a council) and "median_days" (the median of the days from a delivery to
    each reported reply with a date; None without any). A council row names its
    municipality; a councillor row also names its representative (public record). No
    resident's data.

    Only counted letters count, erased ones included (they keep whether and when council
    replied). Volumes differ and only residents who answered are counted: show
    RESPONSIVENESS_CAVEAT with these figures. The counting is done by GROUP BY queries in
    the database. Rows are ordered by letters delivered, most first.

    Raises ValueError for an unknown grouping.
    """
    if by not in RESPONSIVENESS_GROUPINGS:
        raise ValueError(f"Unknown grouping {by!r}; choose one of council, councillor.")
    found = _council_rows(campaign) if by == "council" else _councillor_rows(campaign)
    rows = [
        {
            **row,
            "answered": row.get("answered", 0),
            "replied": row.get("replied", 0),
            "median_days": row.get("median_days"),
        }
        for row in found
    ]
    _add_responsiveness_names(rows, by)
    rows.sort(key=lambda row: (-row["delivered"], row["name"], row.get("representative", "")))
    return rows


def _add_responsiveness_names(rows: list[dict], by: str) -> None:
    """Name each row's council and, per councillor, the representative (their council is
    their own municipality). Deliveries whose representative was deleted from the
    directory make one row without names."""
    if by == "councillor":
        representatives = Representative.objects.only(
            "municipality_id", "name", "role", "role_text"
        ).in_bulk({row["representative_id"] for row in rows if row["representative_id"]})
        for row in rows:
            rep = representatives.get(row["representative_id"])
            row["municipality_id"] = rep.municipality_id if rep else None
            row["representative"] = rep.name if rep else ""
            row["role"] = (rep.role_text or rep.get_role_display()) if rep else ""
    municipalities = Municipality.objects.only("ocd_id", "name", "province").in_bulk(
        {row["municipality_id"] for row in rows}
    )
    for row in rows:
        municipality = municipalities.get(row["municipality_id"])
        row["ocd_id"] = municipality.ocd_id if municipality else ""
        row["name"] = municipality.name if municipality else ""
        row["province"] = municipality.province if municipality else ""


def responsiveness_totals(rows: list[dict]) -> dict:
    """The sums of responsiveness rows (per council: every letter once)."""
    return {key: sum(row[key] for row in rows) for key in ("delivered", "answered", "replied")}


def published_replies(*, campaign: Campaign, limit: int = 10) -> list[dict]:
    """The latest reported replies whose writers allowed publication, without their names:
    the councillor, the council, the outcome, the date and the summary."""
    replies = (
        _answered(campaign)
        .filter(may_publish=True, outcome__in=REPLIED_OUTCOMES, letter__purged_at=None)
        .exclude(summary="")
        .select_related("delivery", "municipality")
        .order_by("-created_at", "-pk")[:limit]
    )
    return [
        {
            "recipient": reply.delivery.recipient_label,
            "council": reply.municipality.name,
            "outcome": reply.get_outcome_display(),
            "replied_on": reply.replied_on,
            "summary": reply.summary,
        }
        for reply in replies
    ]


def campaign_responsiveness(*, campaign: Campaign, councils: int = 10) -> dict:
    """What the campaign page shows when the campaign allows it (show_responsiveness): the
    councils that received the most letters, each with its councillors, the totals and the
    published replies. Cached for COUNTS_CACHE_SECONDS like the counter."""
    key = f"letters:responsiveness:{campaign.pk}"
    data = cache.get(key)
    if data is None:
        council_rows = responsiveness(campaign=campaign, by="council")
        members: dict[int, list[dict]] = {}
        for row in responsiveness(campaign=campaign, by="councillor"):
            members.setdefault(row["municipality_id"], []).append(row)
        data = {
            "councils": [
                {**row, "councillors": members.get(row["municipality_id"], [])}
                for row in council_rows[:councils]
            ],
            "council_count": len(council_rows),
            "totals": responsiveness_totals(council_rows),
            "published": published_replies(campaign=campaign),
        }
        cache.set(key, data, COUNTS_CACHE_SECONDS)
    return data


# --- Campaign updates -------------------------------------------------------------------------


def update_recipients(*, campaign_id: int) -> QuerySet:
    """The letters whose writers a campaign update goes to: confirmed letters of the campaign
    whose writer ticked "Keep me updated" and did not unsubscribe since, not tests, not
    erased. A writer of several letters (several councils) gets one email: see
    update_recipient_count."""
    return Letter.objects.filter(
        campaign_id=campaign_id,
        status=Letter.Status.CONFIRMED,
        is_test=False,
        consent_given=True,
        unsubscribed_at__isnull=True,
        purged_at__isnull=True,
    ).exclude(email="")


def update_recipient_count(*, campaign_id: int) -> int:
    """How many mailboxes a campaign update would go to now."""
    return (
        update_recipients(campaign_id=campaign_id)
        .values("email_canonical")
        .distinct()
        .order_by()
        .count()
    )


# --- The resident's journey -------------------------------------------------------------------


BLOCKED_CACHE_KEY = "letters:blocked-senders"


def sender_is_blocked(*, email: str = "", ip: str = "") -> bool:
    """True when organizers blocked this email address or IP address.

    Addresses are compared as mailboxes (canonical_email): blocking jane@gmail.com blocks
    j.ane+x@gmail.com too. The block list is small and read on every letter: it is cached
    whole, and cleared when an entry is added or removed (letters.caching).
    """
    blocked = cache.get(BLOCKED_CACHE_KEY)
    if blocked is None:
        blocked = {kind: set() for kind in BlockedSender.Kind.values}
        for kind, value in BlockedSender.objects.values_list("kind", "value"):
            if kind == BlockedSender.Kind.EMAIL:
                value = canonical_email(value)
            blocked.setdefault(kind, set()).add(value.strip().lower())
        cache.set(BLOCKED_CACHE_KEY, blocked, 60 * 60)
    return (bool(email) and canonical_email(email) in blocked[BlockedSender.Kind.EMAIL]) or (
        bool(ip) and ip.strip().lower() in blocked[BlockedSender.Kind.IP]
    )


def letter_get_by_confirmation_token(*, token: str) -> Letter:
    """The letter behind a confirmation link, with what its confirmation page shows.

    Raises Http404 for an unknown token (or one replaced by a newer link).
    """
    try:
        return (
            Letter.objects.select_related("campaign", "municipality")
            .prefetch_related("deliveries")
            .get(confirmation_token=token)
        )
    except Letter.DoesNotExist as exc:
        raise Http404("No such confirmation link") from exc


def letter_get_for_unsubscribe(*, value: str) -> Letter:
    """The letter an unsubscribe link names (letters.emails.unsubscribe_url). Raises Http404
    for a link that was not ours."""
    letter = (
        Letter.objects.select_related("campaign")
        .filter(pk=Letter.id_from_unsubscribe_token(value) or 0)
        .first()
    )
    if letter is None:
        raise Http404("No such link")
    return letter


def letter_get_by_token(*, token: str) -> Letter:
    """A letter by its status token, with its campaign, municipality and deliveries.

    Raises Http404 for an unknown token.
    """
    try:
        return (
            Letter.objects.select_related("campaign", "municipality")
            .prefetch_related("deliveries__representative", "deliveries__mail__campaign")
            .get(token=token)
        )
    except Letter.DoesNotExist as exc:
        raise Http404("No such letter") from exc


# --- The personal part --------------------------------------------------------------------------

# Candidates read per check: letters sharing a band key, verified by their signatures. A copy
# sent many times is found among the first ones; the cap keeps the check fast at any volume.
NEAR_DUPLICATE_CANDIDATES = 50


def personal_part_near_duplicate(
    *,
    fingerprint: near_duplicates.Fingerprint | None,
    municipality_id: int,
    representative_ids: list[int],
    exclude_letter_id: int | None = None,
) -> bool:
    """Whether a personal part (its fingerprint) is nearly identical to at least
    LETTERS_NEAR_COPIES_TO_WARN letters already sent: confirmed letters, not tests, to one of
    these representatives (to this municipality's council when none), whose signatures are at
    least near_duplicates.SIMILARITY alike. Never on one letter alone: the answer must not
    tell a stranger whether someone's own words reached the council.

    One indexed query: band keys within the municipality (PersonalPartBand), then at most
    NEAR_DUPLICATE_CANDIDATES signatures compared in Python. A letter that also went to an
    upper tier's council is compared with letters from its own municipality only.
    """
    if fingerprint is None:
        return False
    bands = PersonalPartBand.objects.filter(
        municipality_id=municipality_id,
        key__in=fingerprint.band_keys,
        letter__status=Letter.Status.CONFIRMED,
        letter__is_test=False,
    )
    if representative_ids:
        bands = bands.filter(
            Exists(
                Delivery.objects.filter(
                    letter_id=OuterRef("letter_id"), representative_id__in=representative_ids
                )
            )
        )
    if exclude_letter_id is not None:
        bands = bands.exclude(letter_id=exclude_letter_id)
    wanted = max(1, settings.LETTERS_NEAR_COPIES_TO_WARN)
    seen, copies = set(), 0
    for letter_id, signature in bands.values_list("letter_id", "letter__personal_signature")[
        :NEAR_DUPLICATE_CANDIDATES
    ]:
        if letter_id in seen:
            continue
        seen.add(letter_id)
        if near_duplicates.similarity(fingerprint.signature, signature) >= (
            near_duplicates.SIMILARITY
        ):
            copies += 1
            if copies >= wanted:
                return True
    return False


def personal_part_counts(*, campaign: Campaign, rows: list[dict] | None = None) -> list[dict]:
    """Per council, for organizers: counted letters (confirmed, not tests), those with a
    personal part, its share in percent ("share"), and those whose personal part was nearly
    identical to one already sent to the same councillors. Most letters first; no personal
    data. rows: letter_counts(by="municipality") when the caller has it."""
    if rows is None:
        rows = letter_counts(campaign=campaign, by="municipality", with_deliveries=False)
    return [
        {**row, "share": round(100 * row["personal"] / row["letters"]) if row["letters"] else 0}
        for row in rows
    ]
