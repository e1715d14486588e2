"""What every piece of case information shares.

A case record belongs to one case and carries exactly one category; it is
read through ``visible_to`` (the access policy, in SQL) and nowhere else.
Each model declares its own ``case`` link, so that the case keeps its named
list of them (``case.notes``, ``case.contacts``, …), and may narrow its
category (a key date is always justice).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from prepare.access.categories import Action, Category

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


class CaseRecord(models.Model):
    """A piece of information on a case, in one category, seen through the policy.

    A model whose ``Meta`` declares its own ``constraints`` keeps a check on its
    category among them (the test of this base verifies it for every record).
    """

    category = models.CharField(_("category"), max_length=16, choices=Category.choices)

    objects = CaseRecordQuerySet.as_manager()

    class Meta:
        abstract = True
        constraints = [
            models.CheckConstraint(
                condition=Q(category__in=Category.values),
                name="%(app_label)s_%(class)s_category_valid",
            ),
        ]


class VersionedCaseRecord(CaseRecord):
    """A case record that is written and corrected: who and when, and a version
    for optimistic locking (a save on a stale version is refused)."""

    created_at = models.DateTimeField(default=timezone.now, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    updated_at = models.DateTimeField(default=timezone.now)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    version = models.PositiveIntegerField(default=1)

    class Meta(CaseRecord.Meta):
        abstract = True
