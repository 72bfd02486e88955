"""Periodic jobs that beat starts and that write through letters.services.

letters.tasks sits below the services (they queue its tasks after commit), so a task that
calls a service lives here instead, beside the other entry points (views, admin, commands).
The worker imports this module through CELERY_IMPORTS.
"""

from celery import shared_task

from . import services


@shared_task(acks_late=True)
def held_letters_release() -> int:
    """Every HELD_LETTERS_RELEASE_EVERY seconds (CELERY_BEAT_SCHEDULE): send the held
    letters whose council now has contacts checked after they were held."""
    return services.held_letters_release()
