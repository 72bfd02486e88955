"""The template filters that format values on the resident's pages: grouped numbers, French
dates, tel: links."""

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
from django.template import Context, Template
from django.utils import translation

from campaigns.templatetags.campaign_tags import long_date, long_datetime, tel_href, thousands

NBSP = "\xa0"
TORONTO = ZoneInfo("America/Toronto")


@pytest.mark.parametrize(
    ("language", "expected"),
    [("en", "10,000"), ("fr", f"10{NBSP}000")],
)
def test_thousands_groups_numbers_as_each_language_writes_them(language, expected):
    with translation.override(language):
        assert thousands(10000) == expected
        assert thousands(0) == "0"
        assert thousands(None) == ""


def test_french_dates_write_the_first_of_the_month_as_an_ordinal():
    with translation.override("fr"):
        assert long_date(date(2026, 12, 1)) == "1er décembre 2026"
        assert long_date(date(2026, 12, 2)) == "2 décembre 2026"
        assert long_date(date(2026, 12, 11)) == "11 décembre 2026"


def test_french_times_are_written_with_h():
    moment = datetime(2026, 12, 1, 6, 6, tzinfo=TORONTO)
    with translation.override("fr"):
        assert long_datetime(moment) == f"1er décembre 2026, 6{NBSP}h{NBSP}06"
        assert long_datetime(datetime(2026, 12, 21, 18, 30, tzinfo=TORONTO)) == (
            f"21 décembre 2026, 18{NBSP}h{NBSP}30"
        )


def test_english_dates_keep_djangos_format():
    with translation.override("en"):
        assert long_date(date(2026, 12, 1)) == "Dec. 1, 2026"


def test_the_filters_show_aware_times_in_the_site_time_zone(settings):
    settings.TIME_ZONE = "America/Toronto"
    utc_noon = datetime(2026, 12, 1, 11, 6, tzinfo=ZoneInfo("UTC"))
    template = Template("{% load campaign_tags %}{{ moment|long_datetime }}")
    with translation.override("fr"):
        assert template.render(Context({"moment": utc_noon})) == (
            f"1er décembre 2026, 6{NBSP}h{NBSP}06"
        )


def test_the_date_format_module_is_french_for_django_too():
    template = Template('{{ day|date:"DATE_FORMAT" }} · {{ 10000 }}')
    with translation.override("fr"):
        assert template.render(Context({"day": date(2026, 12, 2)})).startswith("2 décembre 2026")


@pytest.mark.parametrize(
    ("phone", "href"),
    [
        ("+1 (888) 441-2640 ext. 0", "tel:+18884412640,0"),
        ("+1 (888) 441-2640 ext 12", "tel:+18884412640,12"),
        ("613-555-0100", "tel:+16135550100"),
        ("(613) 555-0100 x 204", "tel:+16135550100,204"),
        ("819 555-0100, poste 3", "tel:+18195550100,3"),
        ("1-800-555-0100", "tel:+18005550100"),
        ("+33 1 23 45 67 89", "tel:+33123456789"),
        ("", ""),
        ("no phone", ""),
    ],
)
def test_tel_links_normalise_north_american_numbers_and_extensions(phone, href):
    assert tel_href(phone) == href
