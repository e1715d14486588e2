"""Writes on release-planning checklists: each one transaction and one audit event.

Who may do what:
- starting release planning needs write access to the case and to its
  ``justice`` category (the plan hangs on the expected release date);
- adding, completing, marking not applicable, assigning and reopening an
  item needs write access to the case and to the item's category, as any
  record of that category. Members of the owner organisation complete their
  own items under the same rule: the agreement decides, not the ownership.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import override

from prepare.access.abilities import may_start_planning
from prepare.access.categories import Action, Category
from prepare.access.errors import WriteForbidden
from prepare.access.policy import (
    case_for_coordinator,
    case_practitioners,
    get_case_or_404,
    is_granted,
    organisation_reach,
    organisations_reach,
    partnership_coordinators,
    record_for,
)
from prepare.accounts.models import Organisation, OrganisationType, User
from prepare.audit.models import EventAction
from prepare.audit.services import audit_record
from prepare.cases.lifecycle.rules import ACTIVE_STATUSES
from prepare.cases.models import Case, CaseTeamMember, KeyDate, KeyDateKind
from prepare.cases.services import case_touch, team_member_add
from prepare.locking import save_versioned
from prepare.notifications.messages import render_message
from prepare.notifications.models import Notification, NotificationKind
from prepare.partnerships.models import Membership, Partnership
from prepare.plans.models import (
    DEFAULT_TITLES,
    ChecklistItem,
    ChecklistTemplate,
    ChecklistTemplateItem,
    ItemStatus,
)

NOTE_MAX_LENGTH = 5000
TITLE_MAX_LENGTH = 200
# Far enough for any sentence; a typo such as 9000 days is refused.
MAX_OFFSET_DAYS = 3650


@dataclass(frozen=True)
class DefaultItem:
    key: str
    category: str
    owner_type: str
    offset_days: int


# What a release needs, by default: owner by type of organisation, due a number
# of days before the expected release.
DEFAULT_ITEMS: tuple[DefaultItem, ...] = (
    DefaultItem("housing", Category.SOCIAL, OrganisationType.HOUSING, -90),
    DefaultItem("identity_papers", Category.SOCIAL, OrganisationType.LOCAL_AUTHORITY, -60),
    DefaultItem("bank_account", Category.SOCIAL, OrganisationType.SOCIAL_SERVICES, -30),
    DefaultItem("benefits", Category.SOCIAL, OrganisationType.SOCIAL_SERVICES, -30),
    DefaultItem("health_insurance", Category.SOCIAL, OrganisationType.SOCIAL_SERVICES, -30),
    DefaultItem("continuity_of_care", Category.HEALTH, OrganisationType.HEALTH, -30),
    DefaultItem("work_or_training", Category.SOCIAL, OrganisationType.EMPLOYMENT, -14),
    DefaultItem("mentor", Category.INTERVENTIONS, OrganisationType.EXIT_NGO, -30),
    DefaultItem("family_contact", Category.SOCIAL, OrganisationType.PROBATION, -14),
    DefaultItem("licence_conditions", Category.JUSTICE, OrganisationType.PROBATION, -7),
    DefaultItem("police_briefing", Category.RISK, OrganisationType.POLICE, -7),
    DefaultItem("victim_considerations", Category.JUSTICE, OrganisationType.PROBATION, -30),
)
assert {i.key for i in DEFAULT_ITEMS} == set(DEFAULT_TITLES)


class PlanningRefused(ValidationError):
    """A release-planning change that the case's state does not allow (HTTP 422/400)."""


# --- Helpers ---------------------------------------------------------------------


def expected_release(case: Case) -> datetime.date | None:
    """The case's expected release date, unfiltered: for services and reminders."""
    return (
        KeyDate.objects.of_case(case)
        .filter(kind=KeyDateKind.EXPECTED_RELEASE)
        .values_list("date", flat=True)
        .first()
    )


def partnership_organisations(partnership: Partnership) -> Any:
    """The active organisations of a partnership today: its members and its coordinator."""
    today = timezone.localdate()
    members = (
        Membership.objects.current(today)
        .filter(partnership_id=partnership.pk)
        .values("organisation_id")
    )
    return Organisation.objects.filter(
        Q(pk__in=members) | Q(pk=partnership.coordinating_organisation_id), is_active=True
    ).order_by("name")


def assignable_users(organisations: Any) -> Any:
    """Active practitioners of ``organisations`` who work on cases."""
    return (
        case_practitioners()
        .filter(organisation__in=organisations.values("pk"))
        .select_related("organisation")
        .order_by("organisation__name", "last_name", "first_name", "username")
    )


def planning_started(case: Case) -> bool:
    return ChecklistItem.objects.of_case(case).exists()


def default_template(partnership: Partnership) -> ChecklistTemplate:
    """The partnership's default template, created with the default items on first use."""
    template = ChecklistTemplate.objects.filter(partnership=partnership, is_default=True).first()
    if template is not None:
        return template
    template, created = ChecklistTemplate.objects.get_or_create(
        partnership=partnership,
        is_default=True,
        defaults={"name": "Release checklist"},
    )
    if created:
        ChecklistTemplateItem.objects.bulk_create(
            ChecklistTemplateItem(
                template=template,
                key=item.key,
                category=item.category,
                owner_type=item.owner_type,
                offset_days=item.offset_days,
                position=position,
            )
            for position, item in enumerate(DEFAULT_ITEMS)
        )
    return template


def _resolve_owners(case: Case, types: set[str]) -> dict[str, int | None]:
    """For each organisation type, the one organisation of the partnership that owes it.

    Several of that type: the one on the case team; none, or no single one: unassigned.
    """
    candidates: dict[str, list[int]] = {}
    for org_id, org_type in (
        partnership_organisations(case.partnership)
        .filter(type__in=sorted(types))
        .values_list("pk", "type")
    ):
        candidates.setdefault(org_type, []).append(org_id)
    all_ids = [i for ids in candidates.values() for i in ids]
    on_team = set(
        CaseTeamMember.objects.active()
        .filter(case_id=case.pk, organisation_id__in=all_ids)
        .values_list("organisation_id", flat=True)
    )
    owners: dict[str, int | None] = {}
    for org_type in types:
        ids = candidates.get(org_type, [])
        if len(ids) == 1:
            owners[org_type] = ids[0]
            continue
        teamed = [i for i in ids if i in on_team]
        owners[org_type] = teamed[0] if len(teamed) == 1 else None
    return owners


def _named_owners(case: Case, lines: list[ChecklistTemplateItem]) -> dict[int, int]:
    """The organisations a template names as owners that are still in the partnership.

    An organisation may leave the partnership after the coordinator named it
    in the template: its items then start without an owner.
    """
    named = sorted({line.owner_organisation_id for line in lines if line.owner_organisation_id})
    if not named:
        return {}
    current = partnership_organisations(case.partnership).filter(pk__in=named)
    return {pk: pk for pk in current.values_list("pk", flat=True)}


def _check_owner(case: Case, owner: Organisation | None) -> None:
    if (
        owner is not None
        and not partnership_organisations(case.partnership).filter(pk=owner.pk).exists()
    ):
        raise ValidationError(
            {"owner_organisation": _("The owner must be an organisation of the partnership.")}
        )


def _check_assignee(
    case: Case, category: str, owner: Organisation | None, assignee: User | None
) -> None:
    if assignee is None:
        return
    if owner is None or assignee.organisation_id != owner.pk:
        raise ValidationError(
            {"assignee": _("The person assigned must work for the owner organisation.")}
        )
    if not assignee.is_active or not is_granted(assignee, case.partnership_id, category):
        raise ValidationError(
            {"assignee": _("This person may not read this category of the case.")}
        )


def _audit_item(actor: User, item: ChecklistItem, op: str, fields: list[str]) -> None:
    audit_record(
        action=EventAction.UPDATE,
        actor=actor,
        case=item.case,
        obj=item,
        category=item.category,
        detail={"op": op, "fields": fields, "version": item.version},
    )


# --- Starting and adding ---------------------------------------------------------------


@transaction.atomic
def release_planning_start(*, actor: User, case_id: Any) -> list[ChecklistItem]:
    """Create the case's checklist from the partnership's default template."""
    case = get_case_or_404(actor, case_id, Action.WRITE)
    if not may_start_planning(actor, case, can_write_case=True):
        raise WriteForbidden
    # Two starts at once must not make two checklists: the second waits here.
    Case.objects.select_for_update().filter(pk=case.pk).values_list("pk").first()
    if planning_started(case):
        raise PlanningRefused(_("Release planning has already started for this case."))
    release_on = expected_release(case)
    if release_on is None:
        raise PlanningRefused(
            _("Set the expected release date first: the checklist's due dates count from it.")
        )
    template = default_template(case.partnership)
    lines = list(template.items.all())
    owners = _resolve_owners(case, {line.owner_type for line in lines if line.owner_type})
    named = _named_owners(case, lines)
    now = timezone.now()
    items = [
        ChecklistItem(
            case=case,
            partnership_id=case.partnership_id,
            key=line.key,
            title=line.title,
            category=line.category,
            owner_organisation_id=(
                named.get(line.owner_organisation_id)
                if line.owner_organisation_id
                else owners.get(line.owner_type)
            ),
            offset_days=line.offset_days,
            due_on=release_on + datetime.timedelta(days=line.offset_days),
            created_by=actor,
            created_at=now,
            updated_at=now,
        )
        for line in lines
    ]
    created = ChecklistItem.objects.bulk_create(items)
    if created and created[0].pk is None:
        # Backends that do not return ids from a bulk insert.
        created = list(ChecklistItem.objects.of_case(case).order_by("pk"))
    case_touch(case)
    audit_record(
        action=EventAction.CREATE,
        actor=actor,
        case=case,
        obj=case,
        detail={
            "op": "release_planning_start",
            "template": template.pk,
            "items": [i.pk for i in created],
            "categories": sorted({i.category for i in created}),
        },
    )
    owner_notices_update(case)
    return created


@transaction.atomic
def checklist_item_add(
    *,
    actor: User,
    case_id: Any,
    title: str,
    category: str,
    due_on: datetime.date | None = None,
    offset_days: int | None = None,
    owner_organisation: Organisation | None = None,
    assignee: User | None = None,
) -> ChecklistItem:
    """Add an item to a started checklist: a fixed date, or days from the release."""
    case = get_case_or_404(actor, case_id, Action.WRITE)
    if category not in Category.values:
        raise ValidationError({"category": _("Choose a category.")})
    if not is_granted(actor, case.partnership_id, category, Action.WRITE):
        raise WriteForbidden
    if not planning_started(case):
        raise PlanningRefused(_("Start release planning first."))
    if (due_on is None) == (offset_days is None):
        raise ValidationError(
            _("Give either a due date or a number of days from the expected release.")
        )
    if offset_days is not None:
        # The due date would disclose the release date to a reader without justice.
        if not is_granted(actor, case.partnership_id, Category.JUSTICE):
            raise ValidationError(
                {"offset_days": _("Give a due date: you cannot see the expected release date.")}
            )
        if abs(offset_days) > MAX_OFFSET_DAYS:
            raise ValidationError({"offset_days": _("That is too far from the release.")})
        release_on = expected_release(case)
        if release_on is None:
            raise ValidationError({"offset_days": _("The case has no expected release date.")})
        due_on = release_on + datetime.timedelta(days=offset_days)
    assert due_on is not None
    _check_owner(case, owner_organisation)
    _check_assignee(case, category, owner_organisation, assignee)
    now = timezone.now()
    item = ChecklistItem(
        case=case,
        title=title.strip()[:TITLE_MAX_LENGTH],
        category=category,
        owner_organisation=owner_organisation,
        assignee=assignee,
        offset_days=offset_days,
        due_on=due_on,
        created_by=actor,
        created_at=now,
        updated_at=now,
    )
    item.full_clean()
    item.save()
    case_touch(case)
    audit_record(
        action=EventAction.CREATE,
        actor=actor,
        case=case,
        obj=item,
        category=category,
        detail={"op": "add", "fields": ["title", "due_on", "owner_organisation", "assignee"]},
    )
    if owner_organisation is not None:
        owner_notices_update(case)
    return item


# --- Changing an item -------------------------------------------------------------------

# What the item pages and the audit event read of an item being changed.
_ITEM_RELATED = ("case", "case__partnership", "owner_organisation")


@transaction.atomic
def checklist_item_complete(
    *, actor: User, item_id: Any, version: int, note: str = ""
) -> ChecklistItem:
    item = record_for(actor, ChecklistItem, item_id, Action.WRITE, related=_ITEM_RELATED)
    if item.status != ItemStatus.OPEN:
        raise PlanningRefused(_("This item is not open."))
    save_versioned(
        item,
        version,
        {
            "status": ItemStatus.DONE,
            "completion_note": note.strip()[:NOTE_MAX_LENGTH],
            "completed_by": actor,
            "completed_at": timezone.now(),
            "updated_at": timezone.now(),
        },
    )
    case_touch(item.case)
    _audit_item(actor, item, "complete", ["status", "completion_note"])
    return item


@transaction.atomic
def checklist_item_not_applicable(
    *, actor: User, item_id: Any, version: int, reason: str
) -> ChecklistItem:
    item = record_for(actor, ChecklistItem, item_id, Action.WRITE, related=_ITEM_RELATED)
    if not reason.strip():
        raise ValidationError({"note": _("Say why this item does not apply.")})
    if item.status != ItemStatus.OPEN:
        raise PlanningRefused(_("This item is not open."))
    save_versioned(
        item,
        version,
        {
            "status": ItemStatus.NOT_APPLICABLE,
            "completion_note": reason.strip()[:NOTE_MAX_LENGTH],
            "completed_by": actor,
            "completed_at": timezone.now(),
            "updated_at": timezone.now(),
        },
    )
    case_touch(item.case)
    _audit_item(actor, item, "not_applicable", ["status", "completion_note"])
    return item


@transaction.atomic
def checklist_item_assign(
    *,
    actor: User,
    item_id: Any,
    version: int,
    owner_organisation: Organisation | None,
    assignee: User | None = None,
) -> ChecklistItem:
    """Name the organisation that owes the item and, optionally, one of its people."""
    item = record_for(actor, ChecklistItem, item_id, Action.WRITE, related=_ITEM_RELATED)
    _check_owner(item.case, owner_organisation)
    _check_assignee(item.case, item.category, owner_organisation, assignee)
    save_versioned(
        item,
        version,
        {
            "owner_organisation": owner_organisation,
            "assignee": assignee,
            "updated_at": timezone.now(),
        },
    )
    case_touch(item.case)
    _audit_item(actor, item, "assign", ["owner_organisation", "assignee"])
    owner_notices_update(item.case)
    return item


@transaction.atomic
def checklist_item_reopen(*, actor: User, item_id: Any, version: int) -> ChecklistItem:
    """Open a done or not-applicable item again; its due date follows the release again."""
    item = record_for(actor, ChecklistItem, item_id, Action.WRITE, related=_ITEM_RELATED)
    if item.status == ItemStatus.OPEN:
        raise PlanningRefused(_("This item is already open."))
    fields: dict[str, Any] = {
        "status": ItemStatus.OPEN,
        "completion_note": "",
        "completed_by": None,
        "completed_at": None,
        "updated_at": timezone.now(),
    }
    release_on = expected_release(item.case) if item.offset_days is not None else None
    if release_on is not None and item.offset_days is not None:
        fields["due_on"] = release_on + datetime.timedelta(days=item.offset_days)
    save_versioned(item, version, fields)
    case_touch(item.case)
    _audit_item(actor, item, "reopen", sorted(k for k in fields if k != "updated_at"))
    return item


# --- The release date moves -----------------------------------------------------------


def checklist_reschedule(
    *, case: Case, release_on: datetime.date, actor: User | None = None
) -> list[int]:
    """Move the due dates of the case's open items that count from the release.

    Called by ``key_date_set`` inside its transaction (its caller checked the
    write). Done and not-applicable items, and items with a fixed date, keep
    theirs. One UPDATE per distinct offset, and one audit event listing the
    items moved.
    """
    open_items = ChecklistItem.objects.of_case(case).filter(
        status=ItemStatus.OPEN, offset_days__isnull=False
    )
    rows = [
        (pk, offset)
        for pk, offset in open_items.values_list("pk", "offset_days")
        if offset is not None
    ]
    if not rows:
        return []
    now = timezone.now()
    for offset in sorted({offset for _pk, offset in rows}):
        open_items.filter(offset_days=offset).update(
            due_on=release_on + datetime.timedelta(days=offset),
            version=F("version") + 1,
            updated_at=now,
        )
    moved = sorted(pk for pk, _offset in rows)
    audit_record(
        action=EventAction.UPDATE,
        actor=actor,
        case=case,
        detail={"op": "reschedule", "fields": ["due_on"], "items": moved},
    )
    return moved


# --- Owners who cannot see the case ------------------------------------------------------

# How long after the expected release (or the last item of the organisation,
# if later) the team place given for release planning runs by default: the
# first three months after release, when housing, benefits and the mentor
# still need the case. The coordinator may change it before confirming.
OWNER_TEAM_DAYS_AFTER_RELEASE = 90
PURPOSE_MAX_LENGTH = 300


def owner_unreached() -> Q:
    """Open items owned by an organisation whose users may not read them
    (``prepare.access.policy.organisation_reach``): they owe an item they
    cannot see, so it would go overdue without anybody noticing."""
    return Q(status=ItemStatus.OPEN, owner_organisation__isnull=False) & ~Q(organisation_reach())


def unreached_owner_ids(case: Case) -> set[int]:
    """The organisations owning an open item of the case they cannot read (one query)."""
    return set(
        ChecklistItem.objects.filter(case_id=case.pk)
        .filter(owner_unreached())
        .order_by()
        .values_list("owner_organisation_id", flat=True)
        .distinct()
    )


def owner_team_defaults(
    items: Sequence[ChecklistItem], release_on: datetime.date | None
) -> tuple[str, datetime.date]:
    """The purpose and end date offered for adding an item's owner to the team:
    "Release planning: <the items>", until ``OWNER_TEAM_DAYS_AFTER_RELEASE``
    days after the release or the organisation's last item, whichever is later."""
    titles = ", ".join(dict.fromkeys(i.display_title for i in items))
    purpose = (_("Release planning: %(items)s") % {"items": titles})[:PURPOSE_MAX_LENGTH]
    days = [i.due_on for i in items]
    if release_on is not None:
        days.append(release_on)
    base = max([timezone.localdate(), *days])
    return purpose, base + datetime.timedelta(days=OWNER_TEAM_DAYS_AFTER_RELEASE)


def owner_notice_params(case: Case, organisation: Organisation) -> dict[str, str]:
    """The parameters of the notice to the coordinators (message key
    ``checklist_owner``, see ``owner_notices_update``)."""
    return {"org": organisation.name, "ref": case.reference}


def owner_notice_title(case: Case, organisation: Organisation) -> str:
    """The notice's text in the site's language (the stored fallback)."""
    with override(settings.LANGUAGE_CODE):
        return render_message("checklist_owner", owner_notice_params(case, organisation))


def _owner_notice_key(case: Case, organisation_id: int) -> str:
    return f"checklist_owner:{case.pk}:{organisation_id}"


def owner_notices_update(case: Case) -> set[int]:
    """Tell the partnership's coordinators, once, of each organisation that owns
    an open item of the case but cannot see it; mark the notices of those that
    now can (or no longer own one) as read. Returns the organisations unreached.
    Called by the writes that change an item's owner or the team."""
    unreached = unreached_owner_ids(case)
    prefix = f"checklist_owner:{case.pk}:"
    Notification.objects.filter(dedupe_key__startswith=prefix, read_at__isnull=True).exclude(
        dedupe_key__in=[_owner_notice_key(case, o) for o in unreached]
    ).update(read_at=timezone.now())
    if not unreached:
        return unreached
    url = reverse("plans:checklist_owners", args=[case.pk])
    organisations = list(Organisation.objects.filter(pk__in=sorted(unreached)).order_by("pk"))
    rows = [
        Notification(
            user=user,
            kind=NotificationKind.CHECKLIST_OWNER,
            case_id=case.pk,
            title=owner_notice_title(case, organisation)[:200],
            message_key="checklist_owner",
            params=owner_notice_params(case, organisation),
            url=url,
            dedupe_key=_owner_notice_key(case, organisation.pk),
        )
        for user in partnership_coordinators([case.partnership_id]).order_by("pk")
        for organisation in organisations
    ]
    Notification.objects.bulk_create(rows, ignore_conflicts=True)
    return unreached


@dataclass(frozen=True)
class OwnerAddition:
    """One organisation to put on the case team, as the coordinator confirmed it."""

    organisation_id: int
    purpose: str
    ends_on: datetime.date | None


@transaction.atomic
def checklist_owners_add(
    *, actor: User, case_id: Any, additions: Iterable[OwnerAddition]
) -> list[CaseTeamMember]:
    """Put the owners of items who cannot see the case on its team, all or none.

    The coordinator of the case's partnership only (404 if they do not see the
    case, 403 otherwise). Each organisation must be a current member of the
    partnership, not on the team yet, and own an open item it cannot see whose
    category its agreement grants. Each addition is the team's own
    ``team_member_add`` (a disclosure, audited naming the recipient and the
    legal basis); together they stand or fall.
    """
    case = case_for_coordinator(actor, case_id, Action.WRITE)
    wanted = list(additions)
    if not wanted:
        raise ValidationError(_("Choose at least one organisation to add to the team."))
    ids = [a.organisation_id for a in wanted]
    if len(set(ids)) != len(ids):
        raise ValidationError(_("Each organisation can be added once."))
    facts = organisations_reach(case, ids)
    organisations = Organisation.objects.in_bulk(ids)
    owed: dict[int, set[str]] = {}
    for org_id, category in (
        ChecklistItem.objects.filter(case_id=case.pk, owner_organisation_id__in=ids)
        .filter(owner_unreached())
        .values_list("owner_organisation_id", "category")
    ):
        owed.setdefault(org_id, set()).add(category)
    ended = set(
        CaseTeamMember.objects.filter(
            case_id=case.pk, organisation_id__in=ids, user__isnull=True
        ).values_list("organisation_id", flat=True)
    )
    problems: list[str] = []
    for org_id in ids:
        organisation = organisations.get(org_id)
        fact = facts.get(org_id)
        name = organisation.name if organisation is not None else str(org_id)
        if organisation is None or fact is None or not fact.member:
            problems.append(
                _("%(org)s is not a current member of this partnership.") % {"org": name}
            )
        elif not owed.get(org_id):
            problems.append(
                _("%(org)s owns no open item of this case that it cannot see.") % {"org": name}
            )
        elif fact.on_team or not owed[org_id] & fact.readable:
            problems.append(
                _(
                    "The agreement does not let %(org)s read the category of its items: "
                    "a place on the team would not show them. Reassign them instead."
                )
                % {"org": name}
            )
        elif org_id in ended:
            problems.append(
                _(
                    "%(org)s's place on the team has ended: remove it on the case's team "
                    "page, then add it again."
                )
                % {"org": name}
            )
    if problems:
        raise ValidationError(problems)
    members = [
        team_member_add(
            actor=actor,
            case_id=case.pk,
            organisation=organisations[a.organisation_id],
            purpose=a.purpose.strip()[:PURPOSE_MAX_LENGTH],
            ends_on=a.ends_on,
        )
        for a in wanted
    ]
    owner_notices_update(case)
    return members


# --- Starting when the release date is set -----------------------------------------------


def planning_offered(actor: User, case: Case) -> bool:
    """Whether to offer the actor to start release planning after they set the
    expected release: an active case, not planning yet, that they may start."""
    return (
        case.status in ACTIVE_STATUSES
        and may_start_planning(actor, case, can_write_case=True)
        and not planning_started(case)
    )


def planning_autostart(*, actor: User, case: Case) -> list[ChecklistItem]:
    """Start release planning if the partnership's setting says so and it is
    offered (``planning_offered``). Called by ``key_date_set`` in its
    transaction, after it checked the actor's write on the case and justice."""
    if not case.partnership.release_planning_autostart or not planning_offered(actor, case):
        return []
    return release_planning_start(actor=actor, case_id=case.pk)
