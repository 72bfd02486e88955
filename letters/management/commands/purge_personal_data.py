from django.core.management.base import BaseCommand

from letters.erasure import personal_data_purge, sessions_purge_expired


class Command(BaseCommand):
    help = (
        "Erase residents' personal data from letters past their campaign's retention period: "
        "retention_days after the later of the letter's creation and the campaign's closes_at. "
        "Keeps municipality, ward, language, dates and status, so counts do not change. "
        "Also deletes expired sessions (unfinished letters). "
        "Celery beat runs it daily (PRIVACY_PURGE_HOUR)."
    )

    def handle(self, *args, **options):
        sessions = sessions_purge_expired()
        erased = personal_data_purge()
        self.stdout.write(
            f"Erased the personal data of {erased} letter(s); deleted {sessions} expired "
            "session(s)."
        )
