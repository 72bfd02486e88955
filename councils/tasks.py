"""Celery tasks: thin wrappers that take ids and call the councils code that does the work."""

from celery import shared_task
from django.conf import settings

from . import import_representatives, sync_represent

# The importer takes 1 to 2 ms a row on PostgreSQL here, so a file at DIRECTORY_UPLOAD_MAX_ROWS
# (100,000) takes 2 to 4 minutes; these limits stop a run that hangs, well inside
# CELERY_VISIBILITY_TIMEOUT (the job then records that it was stopped).
DIRECTORY_IMPORT_SOFT_TIME_LIMIT = 15 * 60
DIRECTORY_IMPORT_TIME_LIMIT = DIRECTORY_IMPORT_SOFT_TIME_LIMIT + 60
# The periodic sync starts no new council after this many seconds (each takes a few requests
# at Represent's pace); the councils left wait for the next run.
REPRESENT_SYNC_BUDGET = 8 * 60


@shared_task(
    acks_late=True,
    soft_time_limit=DIRECTORY_IMPORT_SOFT_TIME_LIMIT,
    time_limit=DIRECTORY_IMPORT_TIME_LIMIT,
)
def directory_import_run(job_id: int) -> None:
    """Read an uploaded directory file into its plan; the job then waits for review."""
    import_representatives.directory_import_run(job_id=job_id)


@shared_task(
    acks_late=True,
    soft_time_limit=DIRECTORY_IMPORT_SOFT_TIME_LIMIT,
    time_limit=DIRECTORY_IMPORT_TIME_LIMIT,
)
def directory_import_apply(job_id: int) -> None:
    """Apply a reviewed import; the importer records success or failure on the job."""
    import_representatives.directory_import_apply(job_id=job_id)


@shared_task(
    soft_time_limit=DIRECTORY_IMPORT_SOFT_TIME_LIMIT,
    time_limit=DIRECTORY_IMPORT_TIME_LIMIT,
)
def represent_sync_due() -> int:
    """Beat (REPRESENT_SYNC_ENABLED): refresh the rosters linked to a Represent set that are
    due. Not retried: the next run picks up whatever this one left."""
    if not settings.REPRESENT_SYNC_ENABLED:
        return 0
    return sync_represent.represent_sync_due(budget_seconds=REPRESENT_SYNC_BUDGET)
