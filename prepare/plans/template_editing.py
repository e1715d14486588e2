"""The coordinator's edits of the partnership's release-checklist template.

Who: the coordinator of the partnership only. A user whose organisation is
not in the partnership gets 404 (``Http404``), a member who does not
coordinate it 403 (``WriteForbidden``), for reads and writes alike.

What: add an item, change one (title, category, owner, due day), remove one,
move one up or down. Each write is one transaction that locks the template
row, so that positions stay consistent when two coordinators edit at once,
and checks the item's version (optimistic locking: a stale version raises
``StaleVersion`` and nothing is written). Each write leaves one audit event
with the values before and after: a template holds no case data.

Case checklists are copies made by ``release_planning_start``: an edit here
applies to the checklists started after it, never to one already started.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, F, Max
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from prepare.access.categories import Category
from prepare.access.errors import NotVisible
from prepare.access.policy import parse_pk, require_coordinator
from prepare.accounts.models import Organisation, OrganisationType, User
from prepare.audit.models import EventAction
from prepare.audit.services import audit_record
from prepare.locking import StaleVersion, save_versioned
from prepare.partnerships.models import Partnership
from prepare.plans.models import (
    DEFAULT_TITLES,
    TEMPLATE_MAX_OFFSET_DAYS,
    ChecklistTemplate,
    ChecklistTemplateItem,
)
from prepare.plans.services import TITLE_MAX_LENGTH, default_template, partnership_organisations

# A release checklist of more than this is no longer a checklist; the cap also
# bounds every page and API answer that lists the template.
MAX_ITEMS = 100
UP, DOWN = "up", "down"
MOVES = (UP, DOWN)
# The fields an edit may change, as stored; ``owner_organisation`` is the id.
FIELDS = ("title", "category", "owner_type", "owner_organisation", "offset_days")


@dataclass(frozen=True)
class ItemData:
    """An item as the coordinator submits it (the form and the API build it)."""

    title: str
    category: str
    offset_days: int
    owner_type: str = ""
    owner_organisation_id: int | None = None


def item_data_of(item: ChecklistTemplateItem) -> ItemData:
    """The item's stored values, as a starting point for a partial change."""
    return ItemData(
        title=item.title,
        category=item.category,
        offset_days=item.offset_days,
        owner_type=item.owner_type,
        owner_organisation_id=item.owner_organisation_id,
    )


# --- Who may edit -----------------------------------------------------------------------


def partnership_for_template(*, actor: User, partnership_id: Any) -> Partnership:
    """The partnership, for its coordinator: 404 for a non-member, 403 for a member."""
    pk = require_coordinator(actor, partnership_id)
    partnership = Partnership.objects.filter(pk=pk).first()
    if partnership is None:
        raise NotVisible
    return partnership


def template_item_get(*, partnership: Partnership, item_id: Any) -> ChecklistTemplateItem:
    """An item of the partnership's default template; anything else is a 404."""
    pk = parse_pk(item_id)
    if pk is None:
        raise NotVisible
    item = (
        ChecklistTemplateItem.objects.filter(
            pk=pk, template__partnership_id=partnership.pk, template__is_default=True
        )
        .select_related("owner_organisation")
        .first()
    )
    if item is None:
        raise NotVisible
    return item


# --- Reading ------------------------------------------------------------------------------


def due_label(offset_days: int) -> str:
    """'T-90 days', 'on the day', 'T+7 days': T is the expected release."""
    if offset_days == 0:
        return _("on the day")
    days = abs(offset_days)
    if offset_days < 0:
        return ngettext("T-%(days)d day", "T-%(days)d days", days) % {"days": days}
    return ngettext("T+%(days)d day", "T+%(days)d days", days) % {"days": days}


def owner_type_label(value: str) -> str:
    return str(dict(OrganisationType.choices).get(value, value))


@dataclass(frozen=True)
class TemplateRow:
    item: ChecklistTemplateItem
    number: int  # 1-based place in the list
    first: bool
    last: bool
    # A named owner organisation that is no longer in the partnership: new
    # checklists leave the item without an owner until someone picks one.
    owner_left: bool

    @property
    def title(self) -> str:
        return self.item.display_title

    @property
    def due(self) -> str:
        return due_label(self.item.offset_days)

    @property
    def owner(self) -> str:
        item = self.item
        if item.owner_organisation is not None:
            return item.owner_organisation.name
        if item.owner_type:
            return _("%(type)s (organisation type)") % {"type": owner_type_label(item.owner_type)}
        return _("Nobody: chosen on each case")


@dataclass
class TemplateView:
    partnership: Partnership
    template: ChecklistTemplate
    rows: list[TemplateRow]
    organisations: list[Organisation]

    @property
    def full(self) -> bool:
        return len(self.rows) >= MAX_ITEMS


def template_rows(
    items: Iterable[ChecklistTemplateItem], member_ids: set[int]
) -> list[TemplateRow]:
    items = list(items)
    return [
        TemplateRow(
            item=item,
            number=index + 1,
            first=index == 0,
            last=index == len(items) - 1,
            owner_left=bool(item.owner_organisation_id)
            and item.owner_organisation_id not in member_ids,
        )
        for index, item in enumerate(items)
    ]


def template_read(*, actor: User, partnership_id: Any) -> TemplateView:
    """The partnership's template in order, for its coordinator: four queries.

    The first time, the default template is created from the shipped items
    (``default_template``), exactly as the first release planning would. That
    is not audited: it writes what already applied, and the audit log records
    every change a coordinator makes from there.
    """
    partnership = partnership_for_template(actor=actor, partnership_id=partnership_id)
    template = default_template(partnership)
    items = (
        ChecklistTemplateItem.objects.filter(template_id=template.pk)
        .select_related("owner_organisation")
        .order_by("position", "pk")
    )
    organisations = list(partnership_organisations(partnership))
    member_ids = {o.pk for o in organisations}
    return TemplateView(
        partnership=partnership,
        template=template,
        rows=template_rows(items, member_ids),
        organisations=organisations,
    )


# --- Checking what is submitted ----------------------------------------------------------


def _clean(
    partnership: Partnership, data: ItemData, item: ChecklistTemplateItem | None
) -> dict[str, Any]:
    """The values to store, or a ValidationError naming each wrong field."""
    errors: dict[str, str] = {}
    title = (data.title or "").strip()
    default_title = DEFAULT_TITLES.get(item.key) if item is not None and item.key else None
    if default_title is not None and title in ("", str(default_title)):
        # Kept as the default: each reader sees it in their own language.
        title = ""
    elif not title:
        errors["title"] = _("Say what needs doing.")
    elif len(title) > TITLE_MAX_LENGTH:
        errors["title"] = _("Keep the title to %(max)d characters.") % {"max": TITLE_MAX_LENGTH}
    if data.category not in Category.values:
        errors["category"] = _("Choose a category.")
    offset = data.offset_days
    if (
        isinstance(offset, bool)
        or not isinstance(offset, int)
        or not -TEMPLATE_MAX_OFFSET_DAYS <= offset <= TEMPLATE_MAX_OFFSET_DAYS
    ):
        errors["offset_days"] = _(
            "Give a number of days between %(min)d and %(max)d (negative: before the release)."
        ) % {"min": -TEMPLATE_MAX_OFFSET_DAYS, "max": TEMPLATE_MAX_OFFSET_DAYS}
    owner_type = data.owner_type or ""
    owner_id = data.owner_organisation_id
    if owner_type and owner_id is not None:
        errors["owner_type"] = _("Choose an organisation type or one organisation, not both.")
    elif owner_type and owner_type not in OrganisationType.values:
        errors["owner_type"] = _("Choose an organisation type.")
    elif owner_id is not None:
        unchanged = item is not None and item.owner_organisation_id == owner_id
        # A named owner that has since left the partnership may stay on an
        # item being changed otherwise; it cannot be chosen anew.
        if (
            not unchanged
            and not partnership_organisations(partnership).filter(pk=owner_id).exists()
        ):
            errors["owner_organisation"] = _(
                "The owner must be an organisation of the partnership."
            )
    if errors:
        raise ValidationError(errors)
    return {
        "title": title,
        "category": data.category,
        "owner_type": owner_type,
        "owner_organisation_id": owner_id,
        "offset_days": offset,
    }


def _snapshot(item: ChecklistTemplateItem) -> dict[str, Any]:
    return {
        "key": item.key,
        "title": item.title,
        "category": item.category,
        "owner_type": item.owner_type,
        "owner_organisation": item.owner_organisation_id,
        "offset_days": item.offset_days,
        "position": item.position,
    }


def _locked_template(partnership: Partnership) -> ChecklistTemplate:
    """The default template, its row locked until the transaction ends.

    Every edit of a template takes this lock first, so that two coordinators
    adding or moving items at once cannot compute the same position.
    """
    template = default_template(partnership)
    ChecklistTemplate.objects.select_for_update().filter(pk=template.pk).values_list("pk").first()
    return template


def _audit(
    actor: User,
    action: str,
    item: ChecklistTemplateItem,
    partnership: Partnership,
    detail: Mapping[str, Any],
) -> None:
    audit_record(
        action=action,
        actor=actor,
        obj=item,
        detail={"partnership": partnership.pk, "template": item.template_id, **detail},
    )


# --- Writing -------------------------------------------------------------------------------


@transaction.atomic
def template_item_add(*, actor: User, partnership_id: Any, data: ItemData) -> ChecklistTemplateItem:
    """A new item at the end of the template."""
    partnership = partnership_for_template(actor=actor, partnership_id=partnership_id)
    template = _locked_template(partnership)
    values = _clean(partnership, data, None)
    stats = ChecklistTemplateItem.objects.filter(template_id=template.pk).aggregate(
        count=Count("pk"), last=Max("position")
    )
    if stats["count"] >= MAX_ITEMS:
        raise ValidationError(
            _("A template holds at most %(max)d items: remove one first.") % {"max": MAX_ITEMS}
        )
    last = stats["last"]
    item = ChecklistTemplateItem.objects.create(
        template=template, position=0 if last is None else last + 1, **values
    )
    _audit(
        actor,
        EventAction.CREATE,
        item,
        partnership,
        {"op": "checklist_template_item_add", "after": _snapshot(item)},
    )
    return item


@transaction.atomic
def template_item_update(
    *, actor: User, partnership_id: Any, item_id: Any, version: int, data: ItemData
) -> tuple[ChecklistTemplateItem, list[str]]:
    """Change an item; returns it and the names of the fields that changed."""
    partnership = partnership_for_template(actor=actor, partnership_id=partnership_id)
    _locked_template(partnership)
    item = template_item_get(partnership=partnership, item_id=item_id)
    if item.version != version:
        raise StaleVersion
    values = _clean(partnership, data, item)
    before = _snapshot(item)
    changed = {k: v for k, v in values.items() if getattr(item, k) != v}
    if not changed:
        return item, []
    save_versioned(item, version, changed)
    if "owner_organisation_id" in changed:
        item.owner_organisation = (
            Organisation.objects.filter(pk=item.owner_organisation_id).first()
            if item.owner_organisation_id
            else None
        )
    after = _snapshot(item)
    fields = [f for f in FIELDS if before[f] != after[f]]
    _audit(
        actor,
        EventAction.UPDATE,
        item,
        partnership,
        {
            "op": "checklist_template_item_update",
            "key": item.key,
            "changes": {f: {"from": before[f], "to": after[f]} for f in fields},
            "version": item.version,
        },
    )
    return item, fields


@transaction.atomic
def template_item_remove(*, actor: User, partnership_id: Any, item_id: Any, version: int) -> None:
    partnership = partnership_for_template(actor=actor, partnership_id=partnership_id)
    _locked_template(partnership)
    item = template_item_get(partnership=partnership, item_id=item_id)
    deleted, _rows = ChecklistTemplateItem.objects.filter(pk=item.pk, version=version).delete()
    if not deleted:
        raise StaleVersion
    _audit(
        actor,
        EventAction.DELETE,
        item,
        partnership,
        {"op": "checklist_template_item_remove", "before": _snapshot(item), "version": version},
    )


@transaction.atomic
def template_item_move(
    *, actor: User, partnership_id: Any, item_id: Any, version: int, direction: str
) -> ChecklistTemplateItem:
    """Swap the item with its neighbour above or below.

    Both items change place, so both get a new version: a coordinator who
    read either of them before the move must read it again.
    """
    if direction not in MOVES:
        raise ValidationError({"direction": _("Move an item up or down.")})
    partnership = partnership_for_template(actor=actor, partnership_id=partnership_id)
    template = _locked_template(partnership)
    item = template_item_get(partnership=partnership, item_id=item_id)
    if item.version != version:
        raise StaleVersion
    order = list(
        ChecklistTemplateItem.objects.filter(template_id=template.pk)
        .order_by("position", "pk")
        .values_list("pk", "position")
    )
    index = next(i for i, (pk, _position) in enumerate(order) if pk == item.pk)
    target = index - 1 if direction == UP else index + 1
    if not 0 <= target < len(order):
        message = (
            _("This item is already the first.")
            if direction == UP
            else _("This item is already the last.")
        )
        raise ValidationError({"direction": message})
    positions = [position for _pk, position in order]
    if any(a >= b for a, b in pairwise(positions)):
        # Equal positions (rows written outside this module): number them in
        # their shown order first, so that a swap moves something.
        for number, (pk, position) in enumerate(order):
            if position != number:
                ChecklistTemplateItem.objects.filter(pk=pk).update(position=number)
        positions = list(range(len(order)))
        item.position = positions[index]
    other_pk = order[target][0]
    before = item.position
    save_versioned(item, version, {"position": positions[target]})
    ChecklistTemplateItem.objects.filter(pk=other_pk).update(
        position=before, version=F("version") + 1
    )
    _audit(
        actor,
        EventAction.UPDATE,
        item,
        partnership,
        {
            "op": "checklist_template_item_move",
            "direction": direction,
            "changes": {"position": {"from": before, "to": item.position}},
            "swapped_with": other_pk,
            "version": item.version,
        },
    )
    return item


# --- The partnership's release-planning setting -------------------------------------------


@transaction.atomic
def planning_autostart_update(
    *, actor: User, partnership_id: Any, autostart: bool, expected: bool
) -> bool:
    """Whether setting or moving a case's expected release date starts its
    release planning by itself (``Partnership.release_planning_autostart``).

    The coordinator only (404 for a non-member, 403 for another member).
    ``expected`` is the value the form was read with: if it changed since,
    nothing is written (``StaleVersion``). One audit event naming the change.
    Returns whether it changed.
    """
    pk = require_coordinator(actor, partnership_id)
    partnership = Partnership.objects.select_for_update().get(pk=pk)
    before = partnership.release_planning_autostart
    if before != expected:
        raise StaleVersion
    if before == autostart:
        return False
    Partnership.objects.filter(pk=pk).update(release_planning_autostart=autostart)
    audit_record(
        action=EventAction.UPDATE,
        actor=actor,
        obj=partnership,
        detail={
            "partnership": pk,
            "fields": ["release_planning_autostart"],
            "release_planning_autostart": {"from": before, "to": autostart},
        },
    )
    return True
