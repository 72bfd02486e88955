import pytest

from councils.cleaning import (
    clean_email,
    clean_person_name,
    clean_phone,
    district_parts,
    email_kind,
    fix_text,
    is_vacant,
    role_from_text,
    strip_city_prefix,
)
from councils.models import Role


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("RenÃ© Pepsi Landry", "René Pepsi Landry"),
        ("Â\xa0Â\xa0Â\xa0 ", ""),
        ("Moncton, NBÂ Â E1C 1E8", "Moncton, NB E1C 1E8"),
        (
            "Rivière-des-Prairies&#151;Pointe-aux-Trembles",
            "Rivière-des-Prairies—Pointe-aux-Trembles",
        ),
        ("Jean\u00a0Luc", "Jean Luc"),
        ("Montréal déjà Ã©tÃ©", "Montréal déjà été"),
    ],
)
def test_it_repairs_mojibake_entities_and_odd_spaces(raw, clean):
    assert fix_text(raw) == clean


def test_it_keeps_address_lines_but_drops_carriage_returns():
    assert fix_text("100 Queen Street West, Suite B23, \r\nToronto, ON  M5H 2N2") == (
        "100 Queen Street West, Suite B23,\nToronto, ON M5H 2N2"
    )


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        (" Bob Bell", "Bob Bell"),
        ("Bertrand A.  Ward", "Bertrand A. Ward"),
        ("Jean TREMBLAY", "Jean Tremblay"),
        ("BOUCHARD-O'NEIL", "Bouchard-O'Neil"),
        ("MCDONALD", "McDonald"),
        ("Brian A.Q. Hicks", "Brian A.Q. Hicks"),
    ],
)
def test_it_tidies_names_and_all_caps_last_names(raw, clean):
    assert clean_person_name(raw) == clean


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("Phone: 416-395-6437", "416-395-6437"),
        ("519-822-1260 ext. 2502", "519-822-1260 ext. 2502"),
        ("418-641-6501 x1124", "418-641-6501 ext. 1124"),
        ("Tél. : 1 (819) 555-0100 poste 2", "819-555-0100 ext. 2"),
        ("961-3444", "961-3444"),
        (" 902-737-2821", "902-737-2821"),
        ("514 624-1053 ", "514-624-1053"),
        ("", ""),
    ],
)
def test_it_cleans_phone_prefixes_and_keeps_extensions(raw, clean):
    assert clean_phone(raw) == clean


@pytest.mark.parametrize(
    ("text", "role"),
    [
        ("Mayor", Role.MAYOR),
        ("Mairesse", Role.MAYOR),
        ("Maire", Role.MAYOR),
        ("Conseillère", Role.COUNCILLOR),
        ("Conseiller de ville", Role.COUNCILLOR),
        ("member", Role.COUNCILLOR),
        ("Deputy Mayor", Role.DEPUTY_MAYOR),
        ("Mairesse suppléante", Role.DEPUTY_MAYOR),
        ("Maire d'arrondissement", Role.BOROUGH_MAYOR),
        ("Regional Councillor", Role.REGIONAL_COUNCILLOR),
        ("Conseiller d'arrondissement", Role.OTHER),
        ("Clerk", Role.OTHER),
    ],
)
def test_it_maps_published_titles_to_roles(text, role):
    assert role_from_text(text) == role


@pytest.mark.parametrize(
    ("email", "kind"),
    [
        ("mayor@guelph.ca", "office"),
        ("info.mayor@moncton.ca", "office"),
        ("info@example.org", "generic"),
        ("council@example.org", "generic"),
        ("councillor_cho@toronto.ca", "personal"),
        ("", ""),
    ],
)
def test_it_classifies_email_addresses(email, kind):
    assert email_kind(email) == kind


def test_it_repairs_or_drops_bad_emails():
    assert clean_email(" maire@ville.montreal.qc.ca ") == "maire@ville.montreal.qc.ca"
    assert clean_email("rzambito@ ville.montreal.qc.ca") == "rzambito@ville.montreal.qc.ca"
    assert clean_email("mailto:Jane@Example.org") == "jane@example.org"
    assert clean_email("not an email") == ""


@pytest.mark.parametrize("name", ["Vacant", "VACANT", "To be determined", "Poste vacant", ""])
def test_it_recognises_vacant_seats(name):
    assert is_vacant(name)


def test_it_does_not_take_real_names_for_vacancies():
    assert not is_vacant("Valérie Plante")


def test_it_strips_the_city_prefix_from_district_names():
    assert strip_city_prefix("Toronto Ward 42 Scarborough-Rouge River", ["Toronto"]) == (
        "Ward 42 Scarborough-Rouge River"
    )
    assert strip_city_prefix("Montréal Ville-Marie", ["Montréal"]) == "Ville-Marie"
    assert strip_city_prefix("Montreal Ville-Marie", ["Montréal"]) == "Ville-Marie"


@pytest.mark.parametrize(
    ("label", "parts"),
    [
        ("Ward 42 Scarborough-Rouge River", ("42", "scarborough rouge river")),
        ("Scarborough-Rouge River (42)", ("42", "scarborough rouge river")),
        ("District de Lucerne (2)", ("2", "lucerne")),
        ("Arrondissement des Rivières", ("", "rivieres")),
        ("Les Rivières", ("", "rivieres")),
        ("Sainte-Foy—Sillery—Cap-Rouge", ("", "sainte foy sillery cap rouge")),
        ("8", ("8", "")),
        ("District 8", ("8", "")),
    ],
)
def test_it_splits_district_labels_into_number_and_name(label, parts):
    assert district_parts(label) == parts
