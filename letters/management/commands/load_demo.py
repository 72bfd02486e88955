import os
import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from campaigns.services import SEED_DIR, campaign_load_seed
from councils.demo_data import demo_data_load
from councils.import_municipalities import municipalities_seed_load
from letters.groups import groups_ensure

# Under settings.VAR_DIR; the Makefile's run target prints it (keep the two in step).
ADMIN_PASSWORD_FILE = "admin-password"


class Command(BaseCommand):
    help = (
        "Load the demo: the facial-recognition campaign (unless its slug exists), every "
        "Canadian municipality with its upper tier and wards (councils/seed/municipalities.csv; "
        "only those missing are added, existing ones are left as they are), placeholder "
        "representatives for the demo municipalities, the staff groups (ensure_groups), "
        "and, in the embedded default only, a local 'admin' account whose password is "
        "printed and kept in var/admin-password until it is changed. Safe to run again."
    )

    def handle(self, *args, **options):
        for path in sorted(SEED_DIR.glob("*.json")):
            campaign, created = campaign_load_seed(path=path)
            state = "created" if created else "already there, left as is"
            self.stdout.write(f"Campaign {campaign.slug}: {state}")
        directory, wards = municipalities_seed_load()
        self.stdout.write(
            f"Council directory: {directory.created} municipalities and {wards.created} wards "
            f"added, {directory.unchanged} and {wards.unchanged} already there"
        )
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
        password_file = settings.VAR_DIR / ADMIN_PASSWORD_FILE
        admin = User.objects.filter(username="admin").first()
        if admin:
            # The password stays on show (make run prints the file just before the server
            # starts) until someone changes it.
            known = password_file.is_file() and admin.check_password(
                password_file.read_text(encoding="utf-8").strip()
            )
            if not known:
                password_file.unlink(missing_ok=True)
            self.stdout.write(
                "Local admin account: 'admin' exists"
                + (
                    f" (password in {password_file})"
                    if known
                    else " (change its password with: "
                    ".venv/bin/python manage.py changepassword admin)"
                )
            )
            return
        password = secrets.token_urlsafe(12)
        User.objects.create_superuser("admin", "admin@example.org", password)
        # Readable by this user only; make run shows it again right before the server starts,
        # where it is seen, rather than above the migrations' output.
        password_file.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(password_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with open(descriptor, "w", encoding="utf-8") as file:
            file.write(password + "\n")
        self.stdout.write(
            self.style.SUCCESS(
                f"Local admin account created: user 'admin', password '{password}' "
                f"(kept in {password_file} until you change it)"
            )
        )
