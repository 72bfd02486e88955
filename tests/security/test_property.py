# ruff: noqa: F811  (pytest fixtures imported from journey_helpers)
"""Property-based: arbitrary text at the letter form and at the directory importers.

Never a 500 or an uncaught exception: a clear message, a clean save or a clean skip.
"""

import csv
import io
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from councils import cleaning
from councils.import_fsa import postcode_prefixes_import
from councils.import_representatives import representatives_import_file
from councils.sources import (
    SourceError,
    csv_rows,
    decode,
    load_json,
    representatives_from_csv,
    representatives_from_json,
)
from tests.factories import MunicipalityFactory
from tests.letters.journey_helpers import (  # noqa: F401
    campaign,
    council,
    journey_settings,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("journey_settings")]

# Everything UTF-8 can carry: control characters, NUL, RTL marks, zero-width, emoji...
TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=300)
FEW = settings(
    max_examples=50,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@FEW
@given(postal_code=TEXT, query=TEXT, pick=TEXT)
def test_the_council_step_never_fails(client, campaign, council, postal_code, query, pick):
    url = f"/campaigns/{campaign.slug}/council/"
    assert client.post(url, {"postal_code": postal_code, "action": "lookup"}).status_code in (
        200,
        302,
    )
    assert client.post(url, {"q": query, "action": "search"}).status_code in (200, 302)
    assert client.post(url, {"municipality": pick, "action": "pick"}).status_code in (200, 302)


@FEW
@given(
    first_name=TEXT,
    last_name=TEXT,
    email=TEXT,
    street_address=TEXT,
    personal_message=st.text(st.characters(exclude_categories=("Cs",)), max_size=3000),
    recipients=st.lists(TEXT, max_size=3),
)
def test_the_letter_step_and_preview_never_fail(
    client,
    campaign,
    council,
    first_name,
    last_name,
    email,
    street_address,
    personal_message,
    recipients,
):
    client.post(
        f"/campaigns/{campaign.slug}/council/", {"postal_code": "K1A 0B1", "action": "lookup"}
    )
    data = {
        "first_name": first_name,
        "last_name": last_name,
        "email": email,
        "street_address": street_address,
        "personal_message": personal_message,
        "recipients": recipients or [str(council["mayor"].pk)],
    }
    response = client.post(f"/campaigns/{campaign.slug}/write/", data)
    assert response.status_code in (200, 302)
    if response.status_code == 200:
        assert "is-invalid" in response.content.decode() or "alert" in response.content.decode()
    assert client.get(f"/campaigns/{campaign.slug}/preview/").status_code in (200, 302)


CLEANERS = [
    cleaning.fix_text,
    cleaning.one_line,
    cleaning.fix_caps,
    cleaning.clean_person_name,
    cleaning.split_name,
    cleaning.is_vacant,
    cleaning.clean_phone,
    cleaning.clean_email,
    cleaning.email_kind,
    cleaning.role_from_text,
    cleaning.normalise_district,
    cleaning.district_parts,
    cleaning.ward_number_from_type_id,
    cleaning.is_at_large,
]


@settings(max_examples=50, deadline=None)
@given(value=TEXT)
def test_cleaning_functions_accept_any_text(value):
    for cleaner in CLEANERS:
        cleaner(value)
    cleaning.strip_city_prefix(value, ["Ottawa", value])
    cleaning.is_whole_municipality(value, ["Ottawa", value])


@settings(max_examples=50, deadline=None)
@given(data=st.binary(max_size=2000))
def test_sources_accept_any_bytes_or_say_why_not(data):
    csv_rows(decode(data))
    for parse in (representatives_from_csv, load_json):
        try:
            parse(data)
        except SourceError as exc:
            assert str(exc)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | TEXT,
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(
        st.sampled_from(
            [
                "objects", "meta", "name", "first_name", "last_name", "elected_office",
                "district_name", "district_id", "email", "url", "personal_url", "photo_url",
                "source_url", "related", "representative_set_url", "offices", "tel", "postal",
                "type",
            ]
        )
        | TEXT,
        children,
        max_size=6,
    ),
    max_leaves=25,
)  # fmt: skip


@settings(max_examples=50, deadline=None)
@given(payload=JSON)
def test_represent_json_parsing_accepts_any_shape_or_says_why_not(payload):
    try:
        representatives_from_json(payload)
    except SourceError as exc:
        assert str(exc)


HEADERS = ["District name", "Primary role", "Name", "First name", "Last name", "Email",
           "Phone", "Contact form", "Address line 1", "Postal code", "Nom", "Courriel",
           "Poste"]  # fmt: skip


def _csv(header: list[str], rows: list[list[str]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode("utf-8", errors="surrogatepass")


@FEW
@given(
    header=st.lists(st.sampled_from(HEADERS) | TEXT, min_size=1, max_size=8),
    rows=st.lists(st.lists(TEXT, max_size=8), max_size=6),
)
def test_the_csv_importer_imports_or_skips_or_says_why_not(header, rows):
    municipality = MunicipalityFactory(ocd_id="ocd-division/country:ca/csd:3506008")
    try:
        summary = representatives_import_file(
            path_or_url="upload.csv", data=_csv(header, rows), municipality=municipality
        )
    except SourceError as exc:
        assert str(exc)
    else:
        assert summary.headline()


@FEW
@given(payload=JSON)
def test_the_json_importer_imports_or_skips_or_says_why_not(payload):
    municipality = MunicipalityFactory(ocd_id="ocd-division/country:ca/csd:3506008")
    try:
        summary = representatives_import_file(
            path_or_url="upload.json",
            data=json.dumps(payload).encode(),
            municipality=municipality,
        )
    except SourceError as exc:
        assert str(exc)
    else:
        assert summary.headline()


@FEW
@given(data=st.binary(max_size=500) | TEXT.map(str.encode))
def test_the_postcode_prefix_importer_never_fails(data):
    try:
        postcode_prefixes_import(data=data)
    except SourceError as exc:
        assert str(exc)
