from django.core.management.base import BaseCommand, CommandError

from councils.import_fsa import postcode_prefixes_import
from councils.sources import SourceError, read_bytes


class Command(BaseCommand):
    help = (
        "Load the postal-code prefix table (first three characters, the FSA) used by the "
        "lookup when Represent is off or silent. CSV columns: fsa, ocd_id (or csd_code), and "
        "optionally ward (a ward OCD id). An FSA may list several municipalities: residents "
        "then choose. Running it again changes nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("path_or_url")

    def handle(self, *args, path_or_url, **options):
        try:
            summary = postcode_prefixes_import(data=read_bytes(path_or_url))
        except SourceError as exc:
            raise CommandError(str(exc)) from exc
        for line in summary.lines():
            self.stdout.write(line)
