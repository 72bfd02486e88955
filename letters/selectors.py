from datetime import date

from django.core.cache import cache
from django.db.models import Count, Exists, F, OuterRef, Q, QuerySet
from django.db.models.functions import TruncDate
from django.http import Http404
from django.utils import timezone
from localflavor.ca.ca_provinces import PROVINCE_CHOICES

from campaigns.models import Campaign
from councils.models import Municipality, Representative, Ward

from . import near_duplicates
from .models import BlockedSender, Delivery, Letter, PersonalPartBand, canonical_email

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

    Each row has the grouping's columns, "letters" and "deliveries_sent" (deliveries of those
    letters with status sent or delivered). Both numbers come from GROUP BY queries: one over
    letters and one over deliveries. Counting both in one query over a letters-deliveries join
    would multiply each letter by its number of recipients (or need COUNT(DISTINCT), which
    sorts every row). Rows are ordered by day for "day", else by letters, most first.

    Raises ValueError for an unknown grouping.
    """
    columns = _group_columns(by)
    letters = (
        _values(Letter.objects.counted().filter(campaign=campaign), columns)
        .annotate(letters=Count("*"))
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
    """Whether a personal part (its fingerprint) is nearly identical to one already sent:
    a confirmed letter, not a test, to one of these representatives (to this municipality's
    council when none), whose signature is at least near_duplicates.SIMILARITY alike.

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
    seen = set()
    for letter_id, signature in bands.values_list("letter_id", "letter__personal_signature")[
        :NEAR_DUPLICATE_CANDIDATES
    ]:
        if letter_id in seen:
            continue
        seen.add(letter_id)
        if near_duplicates.similarity(fingerprint.signature, signature) >= (
            near_duplicates.SIMILARITY
        ):
            return True
    return False


def personal_part_counts(*, campaign: Campaign) -> list[dict]:
    """Per council, for organizers: counted letters (confirmed, not tests), those with a
    personal part, its share in percent, and those whose personal part was nearly identical
    to one already sent to the same councillors. Most letters first; no personal data."""
    rows = list(
        Letter.objects.counted()
        .filter(campaign=campaign)
        .values("municipality_id")
        .annotate(
            letters=Count("*"),
            personal=Count("pk", filter=Q(has_personal_part=True)),
            near_identical=Count("pk", filter=Q(personal_near_duplicate=True)),
        )
        .order_by()
    )
    names = dict(
        Municipality.objects.filter(pk__in=[row["municipality_id"] for row in rows]).values_list(
            "pk", "name"
        )
    )
    for row in rows:
        row["name"] = names.get(row["municipality_id"], "")
        row["share"] = round(100 * row["personal"] / row["letters"]) if row["letters"] else 0
    rows.sort(key=lambda row: (-row["letters"], row["name"]))
    return rows
