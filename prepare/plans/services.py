"""Release-planning checklists (being built)."""

from __future__ import annotations

import datetime
from typing import Any


def checklist_reschedule(*, case: Any, release_on: datetime.date) -> None:
    """Move the due dates of the case's checklist items with the release date."""
