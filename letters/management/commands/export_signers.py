import os

from django.core.management.base import BaseCommand, CommandError

from campaigns.models import Campaign
from letters.exporters import FORMATS, SignersExporter, command_line_actor
from letters.models import SignerExportLog


class Command(BaseCommand):
    help = (
        "Write a campaign's signers as CSV or XLSX (personal data): name, email, postal code, "
        "municipality, language, consent and its time, date. Confirmed letters that are not "
        "tests and whose personal data has not been erased; --consented-only keeps those who "
        "ticked 'Keep me updated'. Every run is recorded in the signer export log. The file "
        "defaults to signers-<slug>-<date>.<format> in the current directory, readable by its "
        "owner only."
    )

    def add_arguments(self, parser):
        parser.add_argument("--campaign", required=True, metavar="SLUG")
        parser.add_argument(
            "--consented-only",
            action="store_true",
            help="Only residents who agreed to be kept updated (CASL express consent).",
        )
        parser.add_argument("--format", choices=FORMATS, default="csv", dest="file_format")
        parser.add_argument("--output", metavar="FILE", help="Path to write.")

    def handle(self, *args, **options):
        try:
            campaign = Campaign.objects.get(slug=options["campaign"])
        except Campaign.DoesNotExist as exc:
            raise CommandError(f"No campaign with slug {options['campaign']!r}.") from exc
        exporter = SignersExporter(
            campaign=campaign,
            consented_only=options["consented_only"],
            actor=command_line_actor(),
            source=SignerExportLog.Source.COMMAND,
        )
        file_format = options["file_format"]
        output = options["output"] or exporter.get_filename(file_format)
        # Personal data: create the file readable by its owner only.
        descriptor = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        if file_format == "xlsx":
            with open(descriptor, "wb") as file:
                exporter.write(file, "xlsx")
        else:
            with open(descriptor, "w", newline="", encoding="utf-8") as file:
                exporter.write(file)
        exporter.log.refresh_from_db()
        self.stdout.write(f"Wrote {exporter.log.rows} signers of {campaign.slug} to {output}")
