"""Helpers for release-planning tests: dates and checklists planted directly.

They write through the ORM, without the services (and without audit events),
so that a test or a matrix cell starts from a known state and observes only
what the request under test does.
"""

from __future__ import annotations

import datetime

from django.utils import timezone

from prepare.access.categories import Category
from prepare.access.grants import case_grants_release
from prepare.accounts.models import Organisation, User
from prepare.cases.models import Case, KeyDate, KeyDateKind
from prepare.partnerships.models import Partnership
from prepare.plans.models import ChecklistItem, ChecklistTemplateItem
from tests.cast import sentinel

MISSING_ITEM = 987_654
PLANTED_RELEASE_IN = 20  # days from today
PLANTED_OFFSET = -10  # due ten days before the release


def set_release(case: Case, user: User, in_days: int = PLANTED_RELEASE_IN) -> KeyDate:
    """The case's expected release, ``in_days`` from today (created or moved)."""
    day = timezone.localdate() + datetime.timedelta(days=in_days)
    key_date, _ = KeyDate.objects.update_or_create(
        case=case,
        kind=KeyDateKind.EXPECTED_RELEASE,
        defaults={"date": day, "updated_by": user},
    )
    # As key_date_set does: the release board reads the date from the grant rows.
    case_grants_release(case, day)
    return key_date


def plant_checklist(
    case: Case, user: User, owner: Organisation | None = None
) -> dict[str, ChecklistItem]:
    """An expected release, and one open item per category whose title is the
    category's sentinel, owed by ``owner``. Idempotent."""
    set_release(case, user)
    existing = {i.category: i for i in ChecklistItem.objects.filter(case=case)}
    if existing:
        return existing
    due = timezone.localdate() + datetime.timedelta(days=PLANTED_RELEASE_IN + PLANTED_OFFSET)
    return {
        category: ChecklistItem.objects.create(
            case=case,
            title=sentinel(category),
            category=category,
            owner_organisation=owner,
            offset_days=PLANTED_OFFSET,
            due_on=due,
            created_by=user,
        )
        for category in Category.values
    }


def item_id_of(case: Case, category: str | None = None) -> int:
    """The id of a planted item of the case (of ``category``), or an id that exists nowhere."""
    items = ChecklistItem.objects.filter(case=case)
    if category:
        items = items.filter(category=category)
    pk = items.order_by("pk").values_list("pk", flat=True).first()
    return pk if pk is not None else MISSING_ITEM


def template_item_id_of(partnership: Partnership) -> int:
    """The id of the first item of the partnership's default template, if it
    has one yet, or an id that exists nowhere."""
    pk = (
        ChecklistTemplateItem.objects.filter(
            template__partnership=partnership, template__is_default=True
        )
        .order_by("position", "pk")
        .values_list("pk", flat=True)
        .first()
    )
    return pk if pk is not None else MISSING_ITEM
