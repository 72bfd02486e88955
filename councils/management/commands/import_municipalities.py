from django.core.management.base import BaseCommand, CommandError

from councils.import_municipalities import municipalities_import
from councils.sources import OCD_COUNTRY_CA_URL, SourceError


class Command(BaseCommand):
    help = (
        "Create or update municipalities and wards from the Open Civic Data identifiers CSV "
        "(country-ca.csv, one of its filtered copies, or a directory of them). Census "
        "subdivisions become municipalities; census divisions that are upper tiers (Peel, "
        "counties) too; rows under them (ward, district, borough, quartier) become wards. "
        "Reserves, unorganized areas and other non-council types are imported inactive. "
        "Running it again changes nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "path_or_url",
            nargs="?",
            default=OCD_COUNTRY_CA_URL,
            help="CSV file, directory or URL (default: the upstream country-ca.csv)",
        )

    def handle(self, *args, path_or_url, **options):
        try:
            municipalities, wards = municipalities_import(path_or_url=path_or_url)
        except SourceError as exc:
            raise CommandError(str(exc)) from exc
        for summary in (municipalities, wards):
            for line in summary.lines():
                self.stdout.write(line)
        if not (municipalities.changed or wards.changed):
            self.stdout.write("Already up to date: nothing changed.")
