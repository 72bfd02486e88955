"""Pure functions that tidy what councils publish: names, phones, roles, districts, encodings.

Nothing here touches the database, so the importers and their tests share one set of rules.
"""

import html
import re

from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from .models import Representative, Role, search_key

# --- Text -------------------------------------------------------------------------------------


def _cp1252_chars(low: int, high: int) -> str:
    chars = []
    for byte in range(low, high + 1):
        try:
            chars.append(bytes([byte]).decode("cp1252"))
        except UnicodeDecodeError:
            continue
    return re.escape("".join(chars))


# UTF-8 bytes read as windows-1252 show up as a lead character (Â, Ã, â...) followed by one or
# more continuation characters (\u00a0, ©, €...). Each such run is decoded back on its own, so
# a field mixing good accents and mojibake is still repaired.
_MOJIBAKE_RUN = re.compile(f"[{_cp1252_chars(0xC2, 0xF4)}][{_cp1252_chars(0x80, 0xBF)}]+")
_ODD_SPACES = dict.fromkeys(map(ord, "\u00a0\u2007\u202f\u200b\ufeff\t"), " ")
# Control characters (NUL among them, which PostgreSQL refuses in text) carry nothing.
_CONTROLS = dict.fromkeys([*range(0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0x7F])


def fix_text(value: str | None) -> str:
    """Undo HTML entities and UTF-8 read as windows-1252 ("RenÃ©" -> "René"); tidy spaces.

    Keeps line breaks (addresses use them) but normalises them to "\\n".
    """
    if not value:
        return ""
    text = _MOJIBAKE_RUN.sub(_undo_mojibake, html.unescape(str(value)))
    text = re.sub(r"Â(?=\s|$)", "", text)  # a lone "Â" left over from a mangled space
    text = text.translate(_ODD_SPACES).translate(_CONTROLS)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    lines = [" ".join(line.split()) for line in text.split("\n")]
    return "\n".join(line for line in lines if line).strip()


def _undo_mojibake(match: re.Match) -> str:
    try:
        return match.group(0).encode("cp1252").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return match.group(0)


def one_line(value: str | None) -> str:
    return " ".join(fix_text(value).split())


# --- Names ------------------------------------------------------------------------------------


def _title_word(word: str) -> str:
    """ "SAINT-PIERRE" -> "Saint-Pierre", "O'BRIEN" -> "O'Brien", "MCDONALD" -> "McDonald"."""
    parts = re.split(r"([-'’])", word.lower())
    out = "".join(part.capitalize() if part not in "-'’" else part for part in parts)
    if len(out) > 2 and out.startswith("Mc"):
        out = "Mc" + out[2].upper() + out[3:]
    return out


def fix_caps(value: str) -> str:
    """Turn ALL-CAPS words (a habit of French rosters for last names) into title case."""
    words = value.split(" ")
    return " ".join(
        _title_word(word)
        if word.isupper() and "." not in word and sum(c.isalpha() for c in word) > 1
        else word
        for word in words
    )


def clean_person_name(value: str | None) -> str:
    return fix_caps(one_line(value))


def split_name(full_name: str) -> tuple[str, str]:
    """Best guess when a source gives one name: everything but the last word is the first name."""
    parts = full_name.rsplit(" ", 1)
    if len(parts) == 1:
        return "", parts[0]
    return parts[0], parts[1]


_VACANT = {
    "vacant",
    "vacancy",
    "vacant seat",
    "to be determined",
    "to be announced",
    "tbd",
    "tba",
    "poste vacant",
    "siege vacant",
    "vacante",
    "a determiner",
    "a venir",
}


def is_vacant(name: str) -> bool:
    key = search_key(name).strip(" .-*()")
    return not key or key in _VACANT or key.startswith(("vacant ", "poste vacant"))


# --- Phones -----------------------------------------------------------------------------------

_PHONE_PREFIX = re.compile(
    r"^\s*(?:phone|telephone|téléphone|tél|tel|t|office|bureau|cell|cellulaire|mobile|fax|"
    r"télécopieur|telecopieur|f)\s*[.:]*\s*",
    re.IGNORECASE,
)
_EXTENSION = re.compile(r"(?:ext\.?|extension|poste|post\.|x|#)\s*(\d{1,6})\s*$", re.IGNORECASE)


def clean_phone(value: str | None) -> str:
    """ "Phone: 416-395-6437" -> "416-395-6437"; "519-822-1260 ext. 2502" keeps the extension.

    Seven-digit numbers stay as published (the area code is not guessed).
    """
    text = one_line(value)
    if not text:
        return ""
    text = _PHONE_PREFIX.sub("", text)
    extension = ""
    match = _EXTENSION.search(text)
    if match:
        extension = match.group(1)
        text = text[: match.start()]
    digits = re.sub(r"\D", "", text)
    if len(digits) == 11 and digits.startswith("1"):
        digits = digits[1:]
    if len(digits) == 10:
        number = f"{digits[:3]}-{digits[3:6]}-{digits[6:]}"
    elif len(digits) == 7:
        number = f"{digits[:3]}-{digits[3:]}"
    else:
        number = text.strip(" ,;:-")
    return f"{number} ext. {extension}" if extension and number else number


# --- Emails -----------------------------------------------------------------------------------

_OFFICE_WORDS = ("mayor", "maire", "mairesse", "mairie", "reeve", "warden", "councillor", "ward")
_GENERIC_LOCALS = {
    "info",
    "information",
    "council",
    "conseil",
    "clerk",
    "greffe",
    "greffier",
    "contact",
    "city",
    "ville",
    "municipalite",
    "admin",
    "office",
    "reception",
    "webmaster",
    "citizens",
    "citoyens",
    "311",
}


def clean_email(value: str | None) -> str:
    """Strip, lower-case and validate; an invalid address comes back blank."""
    text = "".join(one_line(value).split()).removeprefix("mailto:").strip("<>;,").lower()
    if not text:
        return ""
    try:
        validate_email(text)
    except ValidationError:
        return ""
    return text


def email_kind(email: str) -> str:
    """Office (mayor@, info.mayor@), generic (info@, council@) or personal."""
    if not email:
        return ""
    local = email.split("@", 1)[0]
    words = set(re.split(r"[._\-+]", local))
    if local in _GENERIC_LOCALS or (words & _GENERIC_LOCALS and not words & set(_OFFICE_WORDS)):
        return Representative.EmailKind.GENERIC
    if any(word in local for word in ("mayor", "maire", "mairesse", "mairie", "reeve", "warden")):
        return Representative.EmailKind.OFFICE
    return Representative.EmailKind.PERSONAL


# --- Roles ------------------------------------------------------------------------------------

_ROLE_RULES: list[tuple[tuple[str, ...], str]] = [
    (
        (
            "deputy mayor",
            "deputy-mayor",
            "acting mayor",
            "mayor pro tem",
            "vice mayor",
            "maire suppleant",
            "mairesse suppleante",
            "maire adjoint",
            "mairesse adjointe",
            "vice-maire",
            "vice maire",
            "vice-mairesse",
            "deputy warden",
            "deputy reeve",
        ),
        Role.DEPUTY_MAYOR,
    ),
    (
        ("borough mayor", "maire d'arrondissement", "mairesse d'arrondissement"),
        Role.BOROUGH_MAYOR,
    ),
    (
        ("conseiller d'arrondissement", "conseillere d'arrondissement", "borough councillor"),
        Role.OTHER,
    ),
    (
        ("regional councillor", "regional councilor", "conseiller regional"),
        Role.REGIONAL_COUNCILLOR,
    ),
    (
        ("mayor", "maire", "mairesse", "reeve", "warden", "regional chair", "chair of council"),
        Role.MAYOR,
    ),
    (
        (
            "councillor",
            "councilor",
            "councilwoman",
            "councilman",
            "conseiller",
            "conseillere",
            "alderman",
            "alderwoman",
            "member",
            "membre",
            "trustee",
        ),
        Role.COUNCILLOR,
    ),
]


def role_from_text(text: str) -> str:
    """Map a published title ("Conseillère", "Mairesse", "Deputy Mayor") to a Role value."""
    key = search_key(text).replace("’", "'")
    if not key:
        return Role.COUNCILLOR
    for needles, role in _ROLE_RULES:
        if any(needle in key for needle in needles):
            return role
    return Role.OTHER


# --- Districts and wards ----------------------------------------------------------------------

_GENERIC_DISTRICT_WORDS = re.compile(
    r"^(?:ward|wards|district|districts|division|borough|quartier|arrondissement|"
    r"district electoral|circonscription|secteur|poste|siege|seat)\b\s*"
    r"(?:no\.?|number|numero|n°|#)?\s*(?:de la |de l'|de |du |des |d'|of )?",
)
_NUMBER = re.compile(r"\((\d+)\)|^(\d+)\b|\b(\d+)$|^(\d+)\s")


def normalise_district(value: str) -> str:
    """Accent-free, lower-case, dashes and apostrophes as spaces: for comparing names."""
    key = search_key(value.replace("’", "'"))
    key = re.sub(r"[-–—‐_/]", " ", key)
    return " ".join(key.split())


def strip_city_prefix(district: str, municipality_names: list[str]) -> str:
    """ "Toronto Ward 42 Scarborough-Rouge River" -> "Ward 42 Scarborough-Rouge River"."""
    text = one_line(district)
    folded = search_key(text)
    for name in sorted({n for n in municipality_names if n}, key=len, reverse=True):
        prefix = search_key(name)
        if folded == prefix:
            return text
        if folded.startswith(prefix + " "):
            return text[len(prefix) + 1 :].strip()
    return text


def district_parts(value: str) -> tuple[str, str]:
    """Split a district label into (number, name): "Ward 42 Scarborough-Rouge River" ->
    ("42", "scarborough rouge river"); "District de Lucerne (2)" -> ("2", "lucerne")."""
    key = normalise_district(value)
    number = ""
    paren = re.search(r"\((\d+)\)", key)
    if paren:
        number = paren.group(1)
        key = (key[: paren.start()] + key[paren.end() :]).strip()
    rest = _GENERIC_DISTRICT_WORDS.sub("", key).strip()
    if not number:
        match = re.match(r"^(\d+)\b\s*", rest)
        if match:
            number = match.group(1)
            rest = rest[match.end() :]
        elif re.search(r"\b(\d+)$", rest) and rest != key:
            match = re.search(r"\b(\d+)$", rest)
            number = match.group(1)
            rest = rest[: match.start()]
    rest = re.sub(r"\(.*?\)", "", rest)
    rest = _GENERIC_DISTRICT_WORDS.sub("", rest.strip()).strip()
    rest = re.sub(r"^(?:les|le|la|the)\s+|^l'\s*", "", rest)
    return number.lstrip("0") or number, " ".join(rest.split())


def ward_number_from_type_id(type_id: str) -> str:
    """ "10-2018" -> "10"; "o~day~min" -> ""."""
    match = re.match(r"^(\d+)(?:-\d{4})?$", type_id)
    return match.group(1).lstrip("0") or match.group(1) if match else ""


def is_whole_municipality(district: str, municipality_names: list[str]) -> bool:
    """A district label that names the whole city (the mayor's seat) rather than a ward."""
    key = normalise_district(district)
    if key in {"mairie", "mayor", "maire", "city wide", "citywide", "at large mayor"}:
        return True
    for name in municipality_names:
        if not name:
            continue
        base = normalise_district(name)
        if key in {base, f"ville de {base}", f"city of {base}", f"town of {base}"}:
            return True
    return False


def is_at_large(district: str) -> bool:
    key = normalise_district(district)
    return key in {"", "at large", "a large", "au large", "general", "ensemble de la ville"}
