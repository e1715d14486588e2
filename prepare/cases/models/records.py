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
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from prepare.access.categories import Action, Category

if TYPE_CHECKING:
    from prepare.accounts.models import User

M = TypeVar("M", bound=models.Model)


def handover_stamp(**options: Any) -> models.ForeignKey[Any, Any]:
    """A row's reference to the transfer that handed it over (decision 0012):
    nullable, no index (read by key through the grace rows), no constraint."""
    return models.ForeignKey(
        "cases.Transfer",
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        db_index=False,
        null=True,
        related_name="+",
        **options,
    )


class CaseRecordQuerySet(models.QuerySet[M]):
    """For models with ``case`` and ``category``: the rows the user may see."""

    def visible_to(self, user: User, action: str = Action.READ) -> CaseRecordQuerySet[M]:
        from prepare.access.policy import record_filter

        return self.filter(record_filter(user, action, model=self.model))

    def of_case(self, case: Any) -> CaseRecordQuerySet[M]:
        """The case's records held by its (current) partnership, unfiltered by the
        policy: for services that work on the case's own records. Records a
        sending partnership kept after a transfer are not the case's any more."""
        return self.filter(case_id=case.pk, partnership_id=case.partnership_id)

    def held_by_case_partnership(self) -> CaseRecordQuerySet[M]:
        """Records held by their case's current partnership (for scans across
        cases, such as the reminders)."""
        return self.filter(partnership_id=F("case__partnership_id"))


class CaseRecord(models.Model):
    """A piece of information on a case, in one category, seen through the policy.

    A model whose ``Meta`` declares its own ``constraints`` keeps a check on its
    category among them (the test of this base verifies it for every record).
    """

    category = models.CharField(_("category"), max_length=16, choices=Category.choices)
    # The partnership that holds the record: the case's partnership when it was
    # written, and the receiving one once a transfer hands its category over.
    # The policy reads a record only through its holder (decision 0012), so a
    # category the sender kept stays with the sender after the case moved.
    partnership = models.ForeignKey(
        "partnerships.Partnership",
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("held by"),
        editable=False,
    )
    # The accepted transfer that last handed the record over to its holder (None
    # for a record written by its holder). A transfer's grace period lets the
    # old team read the records it handed over and those it kept, never what
    # the receiver writes afterwards (decision 0012). A stamp rather than a
    # time: exact whatever the clocks of the machines that wrote the records.
    # No database constraint: a soft reference, like the search index's holder,
    # so that deleting a transfer (only ever with its case) touches no record.
    handed_over_by = handover_stamp(blank=True, editable=False)

    objects = CaseRecordQuerySet.as_manager()

    class Meta:
        abstract = True
        constraints = [
            models.CheckConstraint(
                condition=Q(category__in=Category.values),
                name="%(app_label)s_%(class)s_category_valid",
            ),
        ]

    def save(self, *args: Any, **kwargs: Any) -> None:
        # A new record is held by its case's partnership. Bulk inserts (which
        # skip ``save``) set it themselves; the column is NOT NULL, so one
        # that forgets fails instead of creating a record nobody holds.
        if self.partnership_id is None and getattr(self, "case_id", None) is not None:
            self.partnership_id = self.case.partnership_id
        super().save(*args, **kwargs)


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
