"""The queryset every category-carrying case record uses."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar

from django.db import models

from prepare.access.categories import Action

if TYPE_CHECKING:
    from prepare.accounts.models import User

M = TypeVar("M", bound=models.Model)


class CaseRecordQuerySet(models.QuerySet[M]):
    """For models with ``case`` and ``category``: the rows the user may see."""

    def visible_to(self, user: User, action: str = Action.READ) -> CaseRecordQuerySet[M]:
        from prepare.access.policy import record_filter

        return self.filter(record_filter(user, action))

    def of_case(self, case: Any) -> CaseRecordQuerySet[M]:
        return self.filter(case=case)
