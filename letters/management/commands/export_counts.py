from django.core.management.base import BaseCommand, CommandError

from campaigns.models import Campaign
from letters.exporters import EXPORT_GROUPINGS, FORMATS, counts_exporter
from letters.selectors import RESPONSIVENESS_CAVEAT


class Command(BaseCommand):
    help = (
        "Write a campaign's signature counts as CSV or XLSX, grouped by municipality, province, "
        "ward or day. Counts confirmed letters that are not tests, with the number of their "
        "deliveries sent (sent or delivered). --by councillor writes responsiveness instead: "
        "per representative, letters delivered, residents who answered the follow-up, replies "
        "reported and the median days to a reply (volumes differ, and only residents who "
        "answered are counted). No personal data. The file defaults to "
        "counts-<slug>-<grouping>-<date>.<format> in the current directory; '-' writes CSV to "
        "stdout."
    )

    def add_arguments(self, parser):
        parser.add_argument("--campaign", required=True, metavar="SLUG")
        parser.add_argument("--by", required=True, choices=EXPORT_GROUPINGS)
        parser.add_argument("--format", choices=FORMATS, default="csv", dest="file_format")
        parser.add_argument("--output", metavar="FILE", help="Path to write, or '-' for stdout.")

    def handle(self, *args, **options):
        try:
            campaign = Campaign.objects.get(slug=options["campaign"])
        except Campaign.DoesNotExist as exc:
            raise CommandError(f"No campaign with slug {options['campaign']!r}.") from exc
        file_format = options["file_format"]
        exporter = counts_exporter(campaign=campaign, by=options["by"])
        output = options["output"] or exporter.get_filename(file_format)
        if output == "-":
            if file_format != "csv":
                raise CommandError("Only CSV goes to stdout: give --output FILE for XLSX.")
            # No byte order mark in a pipe: it is for spreadsheets opening a file.
            exporter.write(self.stdout, bom=False)
            if options["by"] == "councillor":
                self.stderr.write(str(RESPONSIVENESS_CAVEAT))
            return
        if file_format == "xlsx":
            with open(output, "wb") as file:
                exporter.write(file, "xlsx")
        else:
            with open(output, "w", newline="", encoding="utf-8") as file:
                exporter.write(file)
        self.stdout.write(f"Wrote counts of {campaign.slug} by {options['by']} to {output}")
        if options["by"] == "councillor":
            self.stdout.write(str(RESPONSIVENESS_CAVEAT))
