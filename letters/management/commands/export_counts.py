from django.core.management.base import BaseCommand, CommandError

from campaigns.models import Campaign
from letters.exporters import FORMATS, CountsExporter
from letters.selectors import COUNT_GROUPINGS


class Command(BaseCommand):
    help = (
        "Write a campaign's signature counts as CSV or XLSX, grouped by municipality, province, "
        "ward or day. Counts confirmed letters that are not tests, with the number of their "
        "deliveries sent (sent or delivered). No personal data. The file defaults to "
        "counts-<slug>-<grouping>-<date>.<format> in the current directory; '-' writes CSV to "
        "stdout."
    )

    def add_arguments(self, parser):
        parser.add_argument("--campaign", required=True, metavar="SLUG")
        parser.add_argument("--by", required=True, choices=COUNT_GROUPINGS)
        parser.add_argument("--format", choices=FORMATS, default="csv", dest="file_format")
        parser.add_argument("--output", metavar="FILE", help="Path to write, or '-' for stdout.")

    def handle(self, *args, **options):
        try:
            campaign = Campaign.objects.get(slug=options["campaign"])
        except Campaign.DoesNotExist as exc:
            raise CommandError(f"No campaign with slug {options['campaign']!r}.") from exc
        file_format = options["file_format"]
        exporter = CountsExporter(campaign=campaign, by=options["by"])
        output = options["output"] or exporter.get_filename(file_format)
        if output == "-":
            if file_format != "csv":
                raise CommandError("Only CSV goes to stdout: give --output FILE for XLSX.")
            # No byte order mark in a pipe: it is for spreadsheets opening a file.
            exporter.write(self.stdout, bom=False)
            return
        if file_format == "xlsx":
            with open(output, "wb") as file:
                exporter.write(file, "xlsx")
        else:
            with open(output, "w", newline="", encoding="utf-8") as file:
                exporter.write(file)
        self.stdout.write(f"Wrote counts of {campaign.slug} by {options['by']} to {output}")
