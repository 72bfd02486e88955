"""Reading uploaded and imported files: CSV errors, and the memory a large file takes."""

import tracemalloc

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from councils.sources import SourceError, csv_rows, upload_check

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


def test_an_upload_is_counted_without_its_blank_lines():
    data = (HEADER + "Ward 1,Mayor,Ann,Able,\n\n,,,,\nWard 2,Councillor,Bob,Baker,\n").encode()
    assert upload_check(name="x.csv", data=data).records == 2


def test_checking_a_large_upload_takes_about_twice_its_size_in_memory():
    # Read whole into lists of dicts, a 10 MB file took 112 MB (the audit saw 60 MB grow a
    # worker by 730 MB); the check reads it one row at a time and keeps only the text.
    row = "District de Lucerne (2),Conseillère,Julie,Bouchard{},julie.bouchard@example.org\n"
    data = (HEADER + "".join(row.format(n) for n in range(20_000))).encode()
    tracemalloc.start()
    try:
        checked = upload_check(name="big.csv", data=data)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert checked.records == 20_000
    assert peak < 2.5 * len(data)
