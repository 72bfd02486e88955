from django.core.management.base import BaseCommand, CommandError

from letters.groups import GROUP_PERMISSIONS, PermissionMissing, groups_ensure


class Command(BaseCommand):
    help = (
        "Create or update the staff groups: Organizers (edit campaigns and the council "
        "directory, moderate letters with the residents' data), Staff (counts, view letters "
        "without the residents' data, and deliveries) and Signer export (the signers' "
        "personal data). Sets each group's permissions exactly; safe to run again."
    )

    def handle(self, *args, **options):
        try:
            groups = groups_ensure()
        except PermissionMissing as exc:
            raise CommandError(f"Permission {exc} does not exist: run migrate first.") from exc
        summary = ", ".join(
            f"{name} ({len(GROUP_PERMISSIONS[name])} permissions)" for name in groups
        )
        self.stdout.write(f"Groups up to date: {summary}")
