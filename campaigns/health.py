"""Checks behind /healthz: can this process reach its database and its Celery broker?"""

import logging

from django.conf import settings

logger = logging.getLogger(__name__)


def database_status(connection) -> str:
    """'ok' when the database answers. Raw SQL on purpose: a health probe asks the database
    itself, with no model and no table involved."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception:
        logger.exception("Health check: database unreachable")
        return "error"
    return "ok"


def broker_status() -> str:
    """'eager' in the embedded default (no broker: tasks run in-process), else 'ok' or 'error'."""
    from celery import current_app as app

    if app.conf.task_always_eager and settings.CELERY_BROKER_URL.startswith("memory://"):
        return "eager"
    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
    except Exception:
        logger.exception("Health check: broker unreachable")
        return "error"
    return "ok"
