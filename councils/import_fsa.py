"""Import postal code prefixes (FSAs, the first three characters) from a CSV that maps each
to a municipality and optionally a ward: the lookup's step when Represent has no answer."""

import re

from django.db import transaction

from .cleaning import one_line
from .import_summary import ImportSummary
from .models import Municipality, PostcodePrefix, Ward, search_key
from .sources import SourceError, csv_rows, decode


@transaction.atomic
def postcode_prefixes_import(*, data: bytes) -> ImportSummary:
    """Load FSA rows from a CSV with columns fsa and ocd_id (or csd_code), optional ward
    (a ward OCD id). Re-running it changes nothing."""
    summary = ImportSummary(label="postal code prefixes")
    header, rows = csv_rows(decode(data))
    columns = {search_key(h): h for h in header}
    if "fsa" not in columns or not ({"ocd_id", "csd_code", "division_id"} & set(columns)):
        raise SourceError("expected columns: fsa, ocd_id (or csd_code), and optionally ward")
    for line, row in rows:
        fsa = one_line(row.get(columns["fsa"])).upper().replace(" ", "")[:3]
        if not re.fullmatch(r"[ABCEGHJKLMNPRSTVXY]\d[A-Z]", fsa):
            summary.skipped.append((line, f"not a postal code prefix: {fsa!r}"))
            continue
        key = next(c for c in ("ocd_id", "division_id", "csd_code") if c in columns)
        value = one_line(row.get(columns[key]))
        lookup = {"csd_code": value} if key == "csd_code" else {"ocd_id": value}
        municipality = Municipality.objects.filter(**lookup).first()
        if municipality is None:
            summary.skipped.append((line, f"unknown municipality {value!r}"))
            continue
        ward = None
        if "ward" in columns and one_line(row.get(columns["ward"])):
            ward = Ward.objects.filter(
                ocd_id=one_line(row.get(columns["ward"])), municipality=municipality
            ).first()
            if ward is None:
                summary.notes.append(f"line {line}: unknown ward {row.get(columns['ward'])!r}")
        prefix, created = PostcodePrefix.objects.get_or_create(
            fsa=fsa, municipality=municipality, defaults={"ward": ward}
        )
        if created:
            summary.created += 1
        elif prefix.ward_id != (ward.pk if ward else None):
            prefix.ward = ward
            prefix.save(update_fields=["ward"])
            summary.updated += 1
        else:
            summary.unchanged += 1
    return summary
