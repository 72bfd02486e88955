from django.core.management.base import BaseCommand, CommandError

from councils.import_representatives import representatives_import_file
from councils.models import Municipality
from councils.represent import RepresentError
from councils.sources import SourceError


class Command(BaseCommand):
    help = (
        "Create or update representatives from an Open North CSV (English or French headers, "
        "UTF-8 with or without BOM or windows-1252, comma or semicolon) or Represent JSON (a "
        "page, a list, or a URL whose meta.next pages are followed). People of the same "
        "municipality no longer listed are marked inactive (manual entries are kept). Bad rows "
        "are skipped and listed with their line numbers."
    )

    def add_arguments(self, parser):
        parser.add_argument("path_or_url")
        parser.add_argument(
            "--municipality",
            metavar="OCD_ID",
            help="the municipality every row belongs to (else: District ID, set or Locality)",
        )

    def handle(self, *args, path_or_url, municipality=None, **options):
        target = None
        if municipality:
            target = Municipality.objects.filter(ocd_id=municipality).first()
            if target is None:
                raise CommandError(
                    f"No municipality {municipality!r}; run import_municipalities first."
                )
        try:
            summary = representatives_import_file(path_or_url=path_or_url, municipality=target)
        except (SourceError, RepresentError) as exc:
            raise CommandError(str(exc)) from exc
        for line in summary.lines():
            self.stdout.write(line)
