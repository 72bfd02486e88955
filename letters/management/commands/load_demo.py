import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from campaigns.services import SEED_DIR, campaign_load_seed
from councils.demo_data import demo_data_load
from letters.groups import groups_ensure


class Command(BaseCommand):
    help = (
        "Load the demo: the facial-recognition campaign (unless its slug exists), demo "
        "municipalities with placeholder representatives, the staff groups (ensure_groups), "
        "and, in the embedded default only, a local 'admin' account whose password is "
        "printed once. Safe to run again."
    )

    def handle(self, *args, **options):
        for path in sorted(SEED_DIR.glob("*.json")):
            campaign, created = campaign_load_seed(path=path)
            state = "created" if created else "already there, left as is"
            self.stdout.write(f"Campaign {campaign.slug}: {state}")
        municipalities, representatives = demo_data_load()
        self.stdout.write(
            f"Demo councils: {municipalities} municipalities, {representatives} representatives"
        )
        groups_ensure()
        self.stdout.write("Staff groups: Organizers, Staff, Signer export (up to date)")
        self._create_local_admin()

    def _create_local_admin(self):
        embedded = settings.DEBUG and not settings.DATABASE_URL
        if not embedded:
            return
        User = get_user_model()
        if User.objects.filter(username="admin").exists():
            self.stdout.write(
                "Local admin account: 'admin' exists (its password was printed when it was "
                "created; change it with: .venv/bin/python manage.py changepassword admin)"
            )
            return
        password = secrets.token_urlsafe(12)
        User.objects.create_superuser("admin", "admin@example.org", password)
        self.stdout.write(
            self.style.SUCCESS(
                f"Local admin account created: user 'admin', password '{password}' "
                "(shown only this once)"
            )
        )
