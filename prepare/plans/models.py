"""Release planning: checklist templates per partnership and each case's checklist."""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from prepare.access.categories import Category
from prepare.accounts.models import Organisation, OrganisationType
from prepare.cases.models import Case, CaseRecord
from prepare.partnerships.models import Partnership

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

# The default template's items, by stable key. The key is stored; the title is
# translated when shown, so every user reads it in their own language.
DEFAULT_TITLES: dict[str, StrOrPromise] = {
    "housing": _("Housing"),
    "identity_papers": _("Identity papers"),
    "bank_account": _("Bank account"),
    "benefits": _("Benefits"),
    "health_insurance": _("Health insurance"),
    "continuity_of_care": _("Continuity of care"),
    "work_or_training": _("Work or training"),
    "mentor": _("Mentor"),
    "family_contact": _("Family contact"),
    "licence_conditions": _("Licence conditions explained"),
    "police_briefing": _("Police briefing"),
    "victim_considerations": _("Victim considerations"),
}


def title_of(key: str, title: str) -> str:
    """The title to show: the one typed in, else the translated default title.

    A coordinator who rewords a default item of the template stores their own
    title beside the key: their wording wins, untranslated, as they wrote it.
    """
    if title:
        return title
    return str(DEFAULT_TITLES.get(key, key))


# How far from the expected release a template item may fall due: a year
# either way covers any real preparation or follow-up; a typo does not pass.
TEMPLATE_MAX_OFFSET_DAYS = 365


class ChecklistTemplate(models.Model):
    """A partnership's list of what must be ready before a release."""

    partnership = models.ForeignKey(
        Partnership,
        on_delete=models.CASCADE,
        related_name="checklist_templates",
        verbose_name=_("partnership"),
    )
    name = models.CharField(_("name"), max_length=200)
    is_default = models.BooleanField(_("default template"), default=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["partnership", "name"]
        verbose_name = _("checklist template")
        verbose_name_plural = _("checklist templates")
        constraints = [
            models.UniqueConstraint(
                fields=["partnership"],
                condition=Q(is_default=True),
                name="checklist_template_one_default",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class ChecklistTemplateItem(models.Model):
    """One line of a template: what, in which category, owed by whom, when."""

    template = models.ForeignKey(ChecklistTemplate, on_delete=models.CASCADE, related_name="items")
    key = models.SlugField(_("key"), max_length=40, blank=True)
    title = models.CharField(_("title"), max_length=200, blank=True)
    category = models.CharField(_("category"), max_length=16, choices=Category.choices)
    owner_type = models.CharField(
        _("owner organisation type"),
        max_length=32,
        choices=OrganisationType.choices,
        blank=True,
    )
    owner_organisation = models.ForeignKey(
        Organisation,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("owner organisation"),
    )
    offset_days = models.SmallIntegerField(
        _("due, in days from the expected release"),
        help_text=_("Negative: before the release, e.g. -90."),
    )
    position = models.PositiveSmallIntegerField(default=0)
    # Optimistic locking of the coordinator's edits (prepare.plans.template_editing).
    version = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["template", "position", "pk"]
        verbose_name = _("checklist template item")
        verbose_name_plural = _("checklist template items")
        constraints = [
            models.CheckConstraint(
                condition=~Q(key="") | ~Q(title=""), name="checklist_template_item_titled"
            ),
            models.CheckConstraint(
                condition=Q(owner_type="") | Q(owner_organisation__isnull=True),
                name="checklist_template_item_one_owner",
            ),
            models.CheckConstraint(
                condition=Q(category__in=Category.values),
                name="checklist_template_item_category_valid",
            ),
            models.CheckConstraint(
                condition=Q(offset_days__gte=-TEMPLATE_MAX_OFFSET_DAYS)
                & Q(offset_days__lte=TEMPLATE_MAX_OFFSET_DAYS),
                name="checklist_template_item_offset_in_range",
            ),
        ]

    def __str__(self) -> str:
        return self.display_title

    @property
    def display_title(self) -> str:
        return title_of(self.key, self.title)


class ItemStatus(models.TextChoices):
    OPEN = "open", _("Open")
    DONE = "done", _("Done")
    NOT_APPLICABLE = "not_applicable", _("Not applicable")


class ChecklistItem(CaseRecord):
    """One thing to have ready for a case's release.

    Its title and its completion note are case information in the item's
    category: only organisations granted that category see the item at all.
    """

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="checklist_items")
    key = models.SlugField(max_length=40, blank=True, editable=False)
    title = models.CharField(_("title"), max_length=200, blank=True)
    owner_organisation = models.ForeignKey(
        Organisation,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("owner organisation"),
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("assigned to"),
    )
    # Days from the expected release; None for a fixed date that does not move.
    offset_days = models.SmallIntegerField(_("days from the release"), null=True, blank=True)
    due_on = models.DateField(_("due on"))
    status = models.CharField(
        _("status"), max_length=16, choices=ItemStatus.choices, default=ItemStatus.OPEN
    )
    # What was done, or why it does not apply; in the item's category.
    completion_note = models.TextField(_("note"), max_length=5000, blank=True)
    completed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    completed_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now)
    version = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["due_on", "pk"]
        verbose_name = _("checklist item")
        verbose_name_plural = _("checklist items")
        indexes = [
            models.Index(fields=["case", "due_on"], name="checklist_case_due"),
            models.Index(
                fields=["owner_organisation", "status", "due_on"], name="checklist_owner_due"
            ),
            models.Index(fields=["assignee", "status", "due_on"], name="checklist_assignee_due"),
            # The reminder scan across all cases (prepare.notifications.reminders).
            models.Index(fields=["status", "due_on"], name="checklist_status_due"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=~Q(key="") | ~Q(title=""), name="checklist_item_titled"
            ),
            models.CheckConstraint(
                condition=Q(category__in=Category.values), name="checklist_item_category_valid"
            ),
            models.CheckConstraint(
                condition=Q(status__in=ItemStatus.values), name="checklist_item_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(status=ItemStatus.OPEN) | Q(completed_at__isnull=False),
                name="checklist_item_closed_has_time",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.case}: {self.display_title}"

    @property
    def display_title(self) -> str:
        return title_of(self.key, self.title)

    def is_overdue(self, today: datetime.date) -> bool:
        return self.status == ItemStatus.OPEN and self.due_on < today
