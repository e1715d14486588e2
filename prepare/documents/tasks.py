"""Background tasks of documents: the daily sweep of stored files no document names."""

from __future__ import annotations

import datetime

from django_tasks import task

from prepare.documents.services import document_files_sweep
from prepare.notifications.scheduler import PERIODIC_TASKS, Periodic


@task()
def sweep_document_files() -> dict[str, int]:
    """Delete left-over files (a rolled-back upload, a failed deletion); idempotent."""
    return {"deleted": document_files_sweep()}


PERIODIC_TASKS["document_files"] = Periodic(sweep_document_files, datetime.timedelta(days=1))
