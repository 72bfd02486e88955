from django.core.management.base import BaseCommand, CommandError

from councils.import_representatives import (
    RosterOutdated,
    representatives_plan_file,
    roster_plan_apply,
)
from councils.models import Municipality
from councils.represent import RepresentError
from councils.roster_plan import plan_lines
from councils.sources import SourceError


class Command(BaseCommand):
    help = (
        "Make an Open North CSV (English or French headers, UTF-8 with or without BOM or "
        "windows-1252, comma or semicolon) or Represent JSON (a page, a list, or a URL whose "
        "meta.next pages are followed) the roster of each municipality it names: new people "
        "are added, listed ones updated, and everyone else there retired (demo placeholders "
        "and people added by hand included). Rows are placed by --municipality, else by their "
        "OCD id (District ID), Represent set or Locality (and Province) column. Prints each "
        "council's changes, then the rows skipped with their line numbers; --dry-run changes "
        "nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("path_or_url")
        parser.add_argument(
            "--municipality",
            metavar="OCD_ID",
            help="the municipality every row belongs to (else: District ID, set or Locality)",
        )
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="print what would change, and change nothing",
        )

    def handle(self, *args, path_or_url, municipality=None, dry_run=False, **options):
        target = None
        if municipality:
            target = Municipality.objects.filter(ocd_id=municipality).first()
            if target is None:
                raise CommandError(
                    f"No municipality {municipality!r}; run import_municipalities first."
                )
        try:
            plan = representatives_plan_file(path_or_url=path_or_url, municipality=target)
        except (SourceError, RepresentError) as exc:
            raise CommandError(str(exc)) from exc
        for line in plan_lines(plan):
            self.stdout.write(line)
        if not dry_run:
            try:
                roster_plan_apply(plan=plan)
            except RosterOutdated as exc:
                raise CommandError(f"The contacts of {exc} changed meanwhile; run again.") from exc
        for line in plan.summary(command=True).lines():
            self.stdout.write(line)
        if dry_run:
            self.stdout.write("Dry run: nothing was changed.")
