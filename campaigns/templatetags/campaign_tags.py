import re
from urllib.parse import urlencode

from django import template
from django.urls import reverse
from django.utils.formats import date_format, get_format, number_format
from django.utils.translation import get_language

from campaigns.models import Campaign, site_organization
from campaigns.rendering import render_markdown, render_markdown_inline

register = template.Library()


@register.filter
def thousands(value):
    """A whole number grouped as the active language writes it: 10,000 or 10 000."""
    if value in (None, ""):
        return ""
    return number_format(value, force_grouping=True)


@register.filter(expects_localtime=True)
def long_date(value):
    """The active language's DATE_FORMAT, with French's "1er" for the first of the month."""
    return _first_of_month(value, "DATE_FORMAT")


@register.filter(expects_localtime=True)
def long_datetime(value):
    """The active language's DATETIME_FORMAT ("1er décembre 2026, 6 h 06")."""
    return _first_of_month(value, "DATETIME_FORMAT")


def _first_of_month(value, format_name: str) -> str:
    if not value:
        return ""
    pattern = get_format(format_name)
    if get_language() == "fr" and value.day == 1:
        # French writes the first day of a month as an ordinal, which no format character
        # gives: the day number gets an escaped "er" after it.
        pattern = re.sub(r"(?<!\\)j", r"j\\e\\r", pattern, count=1)
    return date_format(value, pattern)


# An extension at the end of a phone number: "ext. 0", "x 12", "poste 204", "#3".
_EXTENSION = re.compile(r"\s*(?:ext(?:ension)?\.?|x|poste|p\.|#)\s*(\d+)\s*$", re.IGNORECASE)


@register.filter
def tel_href(phone: str) -> str:
    """A tel: link for a phone number as people write it: "+1 (888) 441-2640 ext. 0" becomes
    "tel:+18884412640,0" (the comma makes the phone pause, then dial the extension). A
    North American number of ten digits gets its +1; others keep their own digits."""
    text = (phone or "").strip()
    extension = ""
    match = _EXTENSION.search(text)
    if match:
        extension = match.group(1)
        text = text[: match.start()]
    digits = re.sub(r"\D", "", text)
    if not digits:
        return ""
    international = text.startswith("+")
    if not international and len(digits) == 10:
        digits = "1" + digits
    if international or (len(digits) == 11 and digits.startswith("1")):
        digits = "+" + digits
    return "tel:" + digits + ("," + extension if extension else "")


@register.filter
def markdown(text):
    """Render organizer Markdown as sanitised HTML."""
    return render_markdown(text)


@register.filter
def markdown_inline(text):
    """Render organizer Markdown for use inside a line, sanitised."""
    return render_markdown_inline(text)


@register.simple_tag(takes_context=True)
def language_switch_url(context, language_code):
    """The language switch's link: it remembers the choice, then shows the current page in
    that language (/campaigns/x/ <-> /fr/campaigns/x/; campaigns.views.language_choose)."""
    request = context["request"]
    query = urlencode({"next": request.get_full_path()})
    return reverse("language", kwargs={"language_code": language_code}) + "?" + query


@register.simple_tag
def organization(campaign=None):
    """Who runs the page, in the active language: the campaign's organization on its pages,
    else the site's (ORGANIZATION_NAME)."""
    if isinstance(campaign, Campaign):
        return campaign.organization()
    return site_organization()
