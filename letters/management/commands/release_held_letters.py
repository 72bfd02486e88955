from django.core.management.base import BaseCommand

from letters.services import held_letters_release


class Command(BaseCommand):
    help = (
        "Send the held letters whose council is ready: its contacts were checked (imported) "
        "after the letter was held, someone there has an email address, no election passed "
        "since, and the campaign is live. Celery beat runs it every HELD_LETTERS_RELEASE_EVERY "
        "seconds."
    )

    def handle(self, *args, **options):
        released = held_letters_release()
        self.stdout.write(f"Sent {released} held letter(s).")
