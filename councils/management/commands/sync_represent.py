from django.core.management.base import BaseCommand, CommandError

from councils.import_representatives import RosterOutdated
from councils.models import Municipality
from councils.represent import RepresentError
from councils.roster_plan import plan_lines
from councils.sources import SourceError
from councils.sync_represent import represent_plan, represent_plan_apply


class Command(BaseCommand):
    help = (
        "Make one representative set from Represent's live API "
        "(https://represent.opennorth.ca/representatives/<SET_SLUG>/) its council's roster, "
        "following its pages, at Represent's pace (shared by every process) and backing off "
        "when it answers 503. Same cleaning and retirement as import_representatives; "
        "--dry-run prints the changes and changes nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("set_slug", metavar="SET_SLUG")
        parser.add_argument("--municipality", metavar="OCD_ID")
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="print what would change, and change nothing",
        )

    def handle(self, *args, set_slug, municipality=None, dry_run=False, **options):
        target = None
        if municipality:
            target = Municipality.objects.filter(ocd_id=municipality).first()
            if target is None:
                raise CommandError(f"No municipality {municipality!r}.")
        try:
            plan, target = represent_plan(set_slug=set_slug, municipality=target)
        except (SourceError, RepresentError) as exc:
            raise CommandError(str(exc)) from exc
        for line in plan_lines(plan):
            self.stdout.write(line)
        if not dry_run:
            try:
                represent_plan_apply(plan=plan, municipality=target, set_slug=set_slug)
            except RosterOutdated as exc:
                raise CommandError(f"The contacts of {exc} changed meanwhile; run again.") from exc
        for line in plan.summary(command=True).lines():
            self.stdout.write(line)
        if dry_run:
            self.stdout.write("Dry run: nothing was changed.")
