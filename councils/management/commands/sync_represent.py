from django.core.management.base import BaseCommand, CommandError

from councils.models import Municipality
from councils.represent import RepresentError
from councils.sources import SourceError
from councils.sync_represent import represent_sync


class Command(BaseCommand):
    help = (
        "Import one representative set from Represent's live API "
        "(https://represent.opennorth.ca/representatives/<SET_SLUG>/), following its pages, "
        "at under one request per second and backing off when it answers 503. Same cleaning "
        "and deactivation as import_representatives."
    )

    def add_arguments(self, parser):
        parser.add_argument("set_slug", metavar="SET_SLUG")
        parser.add_argument("--municipality", metavar="OCD_ID")

    def handle(self, *args, set_slug, municipality=None, **options):
        target = None
        if municipality:
            target = Municipality.objects.filter(ocd_id=municipality).first()
            if target is None:
                raise CommandError(f"No municipality {municipality!r}.")
        try:
            summary = represent_sync(set_slug=set_slug, municipality=target)
        except (SourceError, RepresentError) as exc:
            raise CommandError(str(exc)) from exc
        for line in summary.lines():
            self.stdout.write(line)
