"""The French catalogue is complete: every string a resident or organizer sees has French."""

import gettext
import re
from pathlib import Path

from django.conf import settings

CATALOGUE = Path(settings.BASE_DIR, "config", "locale", "fr", "LC_MESSAGES")


def po_entries(text: str):
    for block in re.split(r"\n\s*\n", text):
        lines = [line for line in block.splitlines() if line.strip()]
        if not any(line.startswith("msgid ") for line in lines):
            continue
        yield lines


def joined(lines: list[str], keyword: str) -> str:
    """The string value of a keyword (msgid, msgstr, msgstr[0]...) across continuation lines."""
    value, inside = [], False
    for line in lines:
        if line.startswith(keyword + " "):
            inside = True
            value.append(line[len(keyword) + 1 :].strip()[1:-1])
        elif inside and line.startswith('"'):
            value.append(line.strip()[1:-1])
        else:
            inside = False if not line.startswith('"') else inside
    return "".join(value)


def test_every_french_entry_is_translated_and_not_fuzzy():
    text = (CATALOGUE / "django.po").read_text(encoding="utf-8")
    problems = []
    for lines in po_entries(text):
        msgid = joined(lines, "msgid")
        if not msgid or any(line.startswith("#~") for line in lines):
            continue
        if any(line.startswith("#,") and "fuzzy" in line for line in lines):
            problems.append(f"fuzzy: {msgid[:60]}")
        keywords = (
            ["msgstr[0]", "msgstr[1]"]
            if any(line.startswith("msgid_plural") for line in lines)
            else ["msgstr"]
        )
        if any(not joined(lines, keyword) for keyword in keywords):
            problems.append(f"untranslated: {msgid[:60]}")
    assert problems == []


def test_the_compiled_catalogue_matches_the_stable_french_labels():
    with (CATALOGUE / "django.mo").open("rb") as handle:
        french = gettext.GNUTranslations(handle)
    assert french.gettext("Postal code") == "Code postal"
    assert french.gettext("Keep me updated about this campaign") == (
        "Me tenir informé·e de cette campagne"
    )
    assert french.gettext("Your personal message") == "Votre message personnel"
