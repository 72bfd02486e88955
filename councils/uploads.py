"""The admin's directory upload: a small file is imported at once, a large one as a job.

Apart from services.py because it queues councils.tasks, whose task calls services.py.
"""

import logging

from django.conf import settings
from django.db import transaction
from django.utils.translation import gettext as _
from kombu.exceptions import OperationalError as BrokerError

from .import_representatives import representatives_import_file
from .import_summary import ImportSummary
from .models import DirectoryImport, Municipality
from .sources import CheckedUpload
from .tasks import directory_import_run as directory_import_run_task

logger = logging.getLogger(__name__)


def directory_upload_import(
    *, upload: CheckedUpload, municipality: Municipality | None, uploaded_by
) -> ImportSummary | DirectoryImport:
    """Import a checked upload now when it has at most DIRECTORY_UPLOAD_TASK_ROWS records
    (returns the summary), else queue it as a DirectoryImport job (returns the job).

    Raises SourceError when a small file cannot be imported.
    """
    if upload.records <= settings.DIRECTORY_UPLOAD_TASK_ROWS:
        return representatives_import_file(
            path_or_url=upload.name, data=upload.data, municipality=municipality
        )
    return directory_import_start(upload=upload, municipality=municipality, uploaded_by=uploaded_by)


@transaction.atomic
def directory_import_start(
    *, upload: CheckedUpload, municipality: Municipality | None, uploaded_by
) -> DirectoryImport:
    """Save the upload as a queued DirectoryImport and start its task once that is committed."""
    job = DirectoryImport(
        file_name=upload.name[:255],
        municipality=municipality,
        uploaded_by=uploaded_by,
        text=upload.text,
        rows_total=upload.records,
    )
    job.full_clean()
    job.save()
    transaction.on_commit(lambda: _enqueue(job.pk))
    return job


def _enqueue(job_id: int) -> None:
    try:
        directory_import_run_task.delay(job_id)
    except BrokerError:
        # Nothing would ever run it: say so on the job rather than leave it queued.
        logger.warning("Broker unavailable: directory import %s could not be queued", job_id)
        job = DirectoryImport.objects.defer("text").get(pk=job_id)
        job.mark_failed(
            message=_(
                "The import could not be queued: the task queue is unreachable. Upload the "
                "file again in a few minutes."
            )
        )
