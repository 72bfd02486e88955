"""Reading imported files: CSV errors."""

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from councils.sources import SourceError, csv_rows

HEADER = "District name,Primary role,First name,Last name,Email\n"
OVERLONG = HEADER + "Ward 1,Mayor,Ann,Able,a@example.org\n" + 'Ward 2,"Open' + "x" * 140_000 + "\n"


def test_a_field_over_the_csv_limit_is_an_error_naming_the_line_where_it_starts():
    with pytest.raises(SourceError, match=r"^Line 3: a field is longer than 131072 characters"):
        csv_rows(OVERLONG + "Ward 3,Councillor,Bob,Baker,b@example.org\n")


@pytest.mark.django_db
def test_the_import_command_explains_a_field_over_the_csv_limit(tmp_path):
    path = tmp_path / "long.csv"
    path.write_text(OVERLONG, encoding="utf-8")
    with pytest.raises(CommandError, match="Line 3: a field is longer"):
        call_command("import_representatives", str(path))
