"""A small known data set for the counts, export and dashboard tests.

Campaign "facial" (the counted one):

    municipality  ward  letters  deliveries (sent or delivered count)   local day
    Toronto ON    W1    3        sent+delivered, sent+failed, queued+bounced
                                                    2 + 1 + 0            20, 20, 21
    Toronto ON    W2    1        delivered x3       3                    21
    Toronto ON    -     1        none               0                    22
    Ottawa ON     -     2        sent, sent         1 + 1                20, 22
    Montreal QC   -     1        complained         0                    22

Never counted: an unconfirmed Toronto letter (with a sent delivery), a confirmed test letter in
Ottawa (with a sent delivery) and a confirmed letter of another campaign in Montreal.
Local days are in America/Toronto; two letters are confirmed late in the evening, when it is
already the next day in UTC.
"""

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from councils.models import Municipality, Ward
from letters.models import Delivery, Letter
from tests.factories import CampaignFactory, MunicipalityFactory, WardFactory

TORONTO_TZ = ZoneInfo("America/Toronto")
S = Delivery.Status
# The figures every counts export has after its grouping's columns. None of the letters here
# has a personal part: test_counts.py counts those on their own.
FIGURES = ["Letters", "With a personal part", "Nearly identical personal parts", "Deliveries sent"]


def local(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=TORONTO_TZ)


@dataclass
class CountsData:
    campaign: object
    other_campaign: object
    toronto: Municipality
    ottawa: Municipality
    montreal: Municipality
    ward1: Ward
    ward2: Ward


_sequence = iter(range(1, 10_000_000))


def make_letter(
    *, campaign, municipality, ward=None, confirmed_at=None, deliveries=(), **fields
) -> Letter:
    number = next(_sequence)
    values = {
        "first_name": "Sam",
        "last_name": f"Writer{number}",
        "email": f"writer{number}@example.org",
        "postal_code": "M5V 2T6",
        "subject": "Please act",
        "body": "Dear council,",
        "language": "en",
        "status": Letter.Status.CONFIRMED if confirmed_at else Letter.Status.PENDING_CONFIRMATION,
        "confirmed_at": confirmed_at,
        "created_at": confirmed_at or local(19, 12),
        **fields,
    }
    letter = Letter.objects.create(
        campaign=campaign, municipality=municipality, ward=ward, **values
    )
    for status in deliveries:
        Delivery.objects.create(letter=letter, recipient_name="Councillor", status=status)
    return letter


def build_counts_data() -> CountsData:
    campaign = CampaignFactory(slug="facial", goal=50)
    other = CampaignFactory(slug="other")
    toronto = MunicipalityFactory(
        ocd_id="ocd-division/country:ca/csd:3520005", name="Toronto", province="ON"
    )
    ottawa = MunicipalityFactory(
        ocd_id="ocd-division/country:ca/csd:3506008", name="Ottawa", province="ON"
    )
    montreal = MunicipalityFactory(
        ocd_id="ocd-division/country:ca/csd:2466023", name="Montréal", province="QC"
    )
    ward1 = WardFactory(municipality=toronto, ocd_id=f"{toronto.ocd_id}/ward:1", name="Ward 1")
    ward2 = WardFactory(municipality=toronto, ocd_id=f"{toronto.ocd_id}/ward:2", name="Ward 2")

    def letter(municipality, confirmed_at, deliveries=(), **fields):
        return make_letter(
            campaign=fields.pop("campaign", campaign),
            municipality=municipality,
            confirmed_at=confirmed_at,
            deliveries=deliveries,
            **fields,
        )

    letter(toronto, local(20, 23, 30), [S.SENT, S.DELIVERED], ward=ward1)
    letter(toronto, local(20, 23, 30), [S.SENT, S.FAILED], ward=ward1)
    letter(toronto, local(21, 10), [S.QUEUED, S.BOUNCED], ward=ward1)
    letter(toronto, local(21, 10), [S.DELIVERED] * 3, ward=ward2)
    letter(toronto, local(22, 9))
    letter(ottawa, local(20, 8), [S.SENT])
    letter(ottawa, local(22, 20, 30), [S.SENT])
    letter(montreal, local(22, 12), [S.COMPLAINED])

    # Never counted.
    letter(toronto, None, [S.SENT], ward=ward1)
    letter(ottawa, local(21, 9), [S.SENT], is_test=True)
    letter(montreal, local(21, 9), [S.SENT], campaign=other)

    return CountsData(campaign, other, toronto, ottawa, montreal, ward1, ward2)
