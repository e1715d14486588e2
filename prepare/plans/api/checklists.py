from __future__ import annotations

import datetime
from typing import Any

from django.urls import path
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from prepare.access.categories import Action, Category
from prepare.access.policy import case_for_write, record_for
from prepare.accounts.models import Organisation, User
from prepare.api.base import (
    CASE_ID,
    ETAG,
    MAX_ID,
    R404_PAGE,
    ApiViewSet,
    OrganisationRefSerializer,
    QueryParamsSerializer,
    StrictSerializer,
    answers,
    etag_header,
    expected_version,
    page_number,
    request_actor,
    stale_version_answer,
)
from prepare.api.pagination import CappedPagination
from prepare.cases.api import PersonNameSerializer
from prepare.plans import selectors, services
from prepare.plans.models import ChecklistItem, ItemStatus
from prepare.plans.selectors import DEFAULT_WINDOW, WINDOWS, CaseChecklist, Progress

ITEM_ID = OpenApiParameter("item_id", OpenApiTypes.INT, OpenApiParameter.PATH)
ITEM_IF_MATCH = OpenApiParameter(
    "If-Match",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    description='The ETag of the item this change is based on, e.g. "3" (its version). '
    "Either this header or the version field is required.",
)

# --- Serializers --------------------------------------------------------------------


class ProgressSerializer(serializers.Serializer):
    total = serializers.IntegerField(help_text=_("Items you may read."))
    done = serializers.IntegerField()
    not_applicable = serializers.IntegerField()
    applicable = serializers.IntegerField(help_text=_("Items that are not marked not applicable."))
    overdue = serializers.IntegerField(help_text=_("Open items past their due date."))
    owner_cannot_see_case = serializers.IntegerField(
        help_text=_(
            "Open items whose owner organisation cannot see them (not on the case team, "
            "or its agreement does not grant the item's category): flagged until resolved."
        )
    )


class ChecklistItemSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    case = serializers.IntegerField(source="case_id")
    key = serializers.CharField(
        allow_blank=True, help_text=_("The default item it comes from; empty for added items.")
    )
    title = serializers.CharField(help_text=_("In the caller's language for default items."))
    category = serializers.ChoiceField(choices=Category.choices)
    status = serializers.ChoiceField(choices=ItemStatus.choices)
    owner_organisation = OrganisationRefSerializer(allow_null=True)
    assignee = serializers.IntegerField(allow_null=True, source="assignee_id")
    offset_days = serializers.IntegerField(
        allow_null=True,
        help_text=_("Days from the expected release (negative: before); null for a fixed date."),
    )
    due_on = serializers.DateField()
    overdue = serializers.BooleanField()
    owner_cannot_see_case = serializers.BooleanField(
        help_text=_(
            "True while the item is open and its owner organisation cannot read it (not on "
            "the case team, or its agreement does not grant the item's category), so that "
            "it is missing from their tasks. The coordinator adds the owner to the team "
            "(v1/cases/{case_id}/checklist/owners/) or reassigns the item."
        )
    )
    note = serializers.CharField(allow_blank=True, source="completion_note")
    completed_by = serializers.IntegerField(allow_null=True, source="completed_by_id")
    completed_at = serializers.DateTimeField(allow_null=True)
    version = serializers.IntegerField(help_text=_('Also sent as the ETag header, "<version>".'))


class ChecklistSerializer(serializers.Serializer):
    started = serializers.BooleanField(help_text=_("Whether release planning has started."))
    expected_release = serializers.DateField(
        allow_null=True, help_text=_("Null unless the justice category is shared with you.")
    )
    progress = ProgressSerializer()
    items = ChecklistItemSerializer(many=True)


class ChecklistCreatedSerializer(ChecklistSerializer):
    created = serializers.ListField(
        child=serializers.IntegerField(), help_text=_("Ids of the items this request created.")
    )


class ChecklistPostSerializer(StrictSerializer):
    """Either ``{"start": true}``, or a new item."""

    start = serializers.BooleanField(
        required=False,
        help_text=_("True: start release planning from the partnership's default template."),
    )
    title = serializers.CharField(required=False, max_length=services.TITLE_MAX_LENGTH)
    category = serializers.ChoiceField(choices=Category.choices, required=False)
    due_on = serializers.DateField(required=False, allow_null=True)
    offset_days = serializers.IntegerField(
        required=False,
        allow_null=True,
        min_value=-services.MAX_OFFSET_DAYS,
        max_value=services.MAX_OFFSET_DAYS,
        help_text=_("Instead of due_on: days from the expected release; the due date follows it."),
    )
    owner_organisation = serializers.IntegerField(
        required=False, allow_null=True, min_value=1, max_value=MAX_ID
    )
    assignee = serializers.IntegerField(
        required=False, allow_null=True, min_value=1, max_value=MAX_ID
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs.get("start"):
            others = sorted(k for k in attrs if k != "start")
            if others:
                raise serializers.ValidationError(
                    {k: [_("Starting takes no other field.")] for k in others}
                )
            return attrs
        missing = [k for k in ("title", "category") if not attrs.get(k)]
        if missing:
            raise serializers.ValidationError({k: [_("This field is required.")] for k in missing})
        return attrs


class ItemAction:
    COMPLETE = "complete"
    NOT_APPLICABLE = "not_applicable"
    ASSIGN = "assign"
    REOPEN = "reopen"


class ChecklistItemPatchSerializer(StrictSerializer):
    action = serializers.ChoiceField(
        choices=[
            (ItemAction.COMPLETE, _("Mark as done")),
            (ItemAction.NOT_APPLICABLE, _("Mark as not applicable (note: the reason)")),
            (ItemAction.ASSIGN, _("Assign to an organisation and, optionally, one of its people")),
            (ItemAction.REOPEN, _("Open again")),
        ]
    )
    note = serializers.CharField(
        required=False, allow_blank=True, max_length=services.NOTE_MAX_LENGTH
    )
    owner_organisation = serializers.IntegerField(
        required=False, allow_null=True, min_value=1, max_value=MAX_ID
    )
    assignee = serializers.IntegerField(
        required=False, allow_null=True, min_value=1, max_value=MAX_ID
    )
    version = serializers.IntegerField(
        required=False,
        min_value=1,
        max_value=2**31 - 1,
        help_text=_("The version read, if If-Match is not sent."),
    )


class ReleaseBoardQuerySerializer(QueryParamsSerializer):
    days = serializers.ChoiceField(
        choices=[(d, str(d)) for d in WINDOWS],
        required=False,
        help_text=_("The window, in days from today (default 90)."),
    )


class ReleaseBoardRowSerializer(serializers.Serializer):
    case = serializers.IntegerField()
    reference = serializers.CharField()
    partnership = serializers.IntegerField()
    person = PersonNameSerializer(
        allow_null=True, help_text=_("Null unless the identity category is granted.")
    )
    expected_release = serializers.DateField()
    checklist = ProgressSerializer()


# --- Rows ---------------------------------------------------------------------------


def _progress(p: Progress) -> dict[str, int]:
    return {
        "total": p.total,
        "done": p.done,
        "not_applicable": p.not_applicable,
        "applicable": p.applicable,
        "overdue": p.overdue,
        "owner_cannot_see_case": p.owner_unreached,
    }


def _item(
    item: ChecklistItem, today: datetime.date, unreached: bool | None = None
) -> dict[str, Any]:
    """An item's row; ``unreached`` if known, else read from the item's annotation."""
    owner = item.owner_organisation
    return {
        "id": item.pk,
        "case_id": item.case_id,
        "key": item.key,
        "title": item.display_title,
        "category": item.category,
        "status": item.status,
        "owner_organisation": {"id": owner.pk, "name": owner.name} if owner else None,
        "assignee_id": item.assignee_id,
        "offset_days": item.offset_days,
        "due_on": item.due_on,
        "overdue": item.is_overdue(today),
        "owner_cannot_see_case": selectors.owner_flag(item) if unreached is None else unreached,
        "completion_note": item.completion_note,
        "completed_by_id": item.completed_by_id,
        "completed_at": item.completed_at,
        "version": item.version,
    }


def _checklist(data: CaseChecklist) -> dict[str, Any]:
    return {
        "started": data.started,
        "expected_release": data.release_on,
        "progress": _progress(data.progress),
        "items": [_item(i, data.today) for i in data.items],
    }


def _organisation(raw: int | None) -> Organisation | None:
    if raw is None:
        return None
    organisation = Organisation.objects.filter(pk=raw).first()
    if organisation is None:
        raise ValidationError(
            {"owner_organisation": [_("The owner must be an organisation of the partnership.")]}
        )
    return organisation


def _user(raw: int | None) -> User | None:
    if raw is None:
        return None
    user = User.objects.filter(pk=raw).first()
    if user is None:
        raise ValidationError(
            {"assignee": [_("The person assigned must work for the owner organisation.")]}
        )
    return user


# --- Views --------------------------------------------------------------------------


class ChecklistViewSet(ApiViewSet):
    # Not DRF's "list" action: the answer is one object, not an array.
    @extend_schema(
        operation_id="v1_cases_checklist_list",
        tags=["release planning"],
        summary="A case's release checklist",
        description="The items you may read (by their category), grouped by nothing, soonest "
        "first, with the progress over those items. The expected release date only with "
        "justice granted. Audited as a view event naming the items.",
        parameters=[CASE_ID],
        responses=answers({200: ChecklistSerializer}, 401, 404),
    )
    def overview(self, request: Request, case_id: int) -> Response:
        data = selectors.case_checklist(
            actor=request_actor(request), case_id=case_id, view="api_checklist", choices=False
        )
        return Response(ChecklistSerializer(_checklist(data)).data)

    @extend_schema(
        tags=["release planning"],
        summary="Start release planning, or add an item",
        description='`{"start": true}` creates the checklist from the partnership\'s default '
        "template: owners resolved to the member organisation of each type, due dates counted "
        "from the expected release (refused, 400, if the case has none; needs write access to "
        "justice). Otherwise the body is a new item in a category you may write, due on a fixed "
        "date or a number of days from the release. Logged. Answers the checklist as you see it.",
        parameters=[CASE_ID],
        request=ChecklistPostSerializer,
        responses=answers({201: ChecklistCreatedSerializer}, 400, 401, 403, 404),
    )
    def create(self, request: Request, case_id: int) -> Response:
        actor = request_actor(request)
        case_for_write(actor, case_id)
        payload = ChecklistPostSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        if data.get("start"):
            selectors.case_for_start(actor=actor, case_id=case_id)
            created = [i.pk for i in services.release_planning_start(actor=actor, case_id=case_id)]
        else:
            case = case_for_write(actor, case_id, data["category"])
            item = services.checklist_item_add(
                actor=actor,
                case_id=case.pk,
                title=data["title"],
                category=data["category"],
                due_on=data.get("due_on"),
                offset_days=data.get("offset_days"),
                owner_organisation=_organisation(data.get("owner_organisation")),
                assignee=_user(data.get("assignee")),
            )
            created = [item.pk]
        checklist = selectors.case_checklist(
            actor=actor, case_id=case_id, view="api_checklist", choices=False
        )
        body = {**_checklist(checklist), "created": created}
        return Response(ChecklistCreatedSerializer(body).data, status=status.HTTP_201_CREATED)


class ChecklistItemViewSet(ApiViewSet):
    @extend_schema(
        tags=["release planning"],
        summary="Complete, mark not applicable, assign or reopen an item",
        description="Needs write access to the item's category. A reason (note) is required "
        "to mark an item not applicable. Optimistic locking: name the version you read "
        "(If-Match or version); a stale one is refused and nothing changes. Logged.",
        parameters=[ITEM_ID, ITEM_IF_MATCH, ETAG],
        request=ChecklistItemPatchSerializer,
        responses=answers({200: ChecklistItemSerializer}, 400, 401, 403, 404, 409, 412, 428),
    )
    def partial_update(self, request: Request, item_id: int) -> Response:
        actor = request_actor(request)
        record_for(actor, ChecklistItem, item_id, Action.WRITE)
        payload = ChecklistItemPatchSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        version, from_header = expected_version(request, data.get("version"))
        action = data["action"]
        with stale_version_answer(from_header):
            if action == ItemAction.COMPLETE:
                item = services.checklist_item_complete(
                    actor=actor, item_id=item_id, version=version, note=data.get("note", "")
                )
            elif action == ItemAction.NOT_APPLICABLE:
                item = services.checklist_item_not_applicable(
                    actor=actor, item_id=item_id, version=version, reason=data.get("note", "")
                )
            elif action == ItemAction.ASSIGN:
                item = services.checklist_item_assign(
                    actor=actor,
                    item_id=item_id,
                    version=version,
                    owner_organisation=_organisation(data.get("owner_organisation")),
                    assignee=_user(data.get("assignee")),
                )
            else:
                item = services.checklist_item_reopen(actor=actor, item_id=item_id, version=version)
        row = _item(item, timezone.localdate(), selectors.item_owner_unreached(item))
        return Response(ChecklistItemSerializer(row).data, headers=etag_header(item.version))


class ReleaseBoardViewSet(ApiViewSet):
    pagination_class = CappedPagination

    @extend_schema(
        tags=["release planning"],
        summary="Upcoming releases",
        description="The expected releases in the next 30, 90 or 180 days of the cases you "
        "work on (on their team, or coordinating) whose justice category is shared with you, "
        "soonest first, with the progress of each checklist over the items you may read. "
        "Audited as one list event naming the cases.",
        parameters=[ReleaseBoardQuerySerializer],
        responses=answers({200: ReleaseBoardRowSerializer(many=True), 404: R404_PAGE}, 400, 401),
    )
    def list(self, request: Request) -> Response:
        query = ReleaseBoardQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        days = int(query.validated_data.get("days") or DEFAULT_WINDOW)
        actor = request_actor(request)
        paginator = self.pagination_class()
        dates = paginator.paginate_queryset(
            selectors.release_dates(actor, days).select_related("case__person"), request, self
        )
        rows = selectors.board_rows(
            actor=actor,
            dates=dates,
            days=days,
            page=page_number(request),
            view="api_release_board",
        )
        data = [
            {
                "case": r.case.pk,
                "reference": r.case.reference,
                "partnership": r.case.partnership_id,
                "person": (
                    {
                        "given_name": r.case.person.given_name,
                        "family_name": r.case.person.family_name,
                    }
                    if r.show_identity
                    else None
                ),
                "expected_release": r.release_on,
                "checklist": _progress(r.progress),
            }
            for r in rows
        ]
        return paginator.get_paginated_response(ReleaseBoardRowSerializer(data, many=True).data)


# --- Owners who cannot see the case -------------------------------------------------------


class OwnerItemSerializer(serializers.Serializer):
    id = serializers.IntegerField(help_text=_("The checklist item's id."))
    title = serializers.CharField()
    category = serializers.ChoiceField(choices=Category.choices)
    due_on = serializers.DateField()
    version = serializers.IntegerField(help_text=_("To reassign it: PATCH v1/checklist-items/."))


class ChecklistOwnerSerializer(serializers.Serializer):
    organisation = OrganisationRefSerializer()
    reason = serializers.ChoiceField(
        choices=[
            ("not_on_team", _("Not on the case team")),
            ("not_granted", _("The agreement does not grant the items' category")),
            ("not_member", _("No longer a member of the partnership")),
        ],
        help_text=_("Why it cannot see its items."),
    )
    items = OwnerItemSerializer(many=True, help_text=_("Its open items it cannot see."))
    categories = serializers.ListField(
        child=serializers.ChoiceField(choices=Category.choices),
        help_text=_("What a place on the team would let its people read (its agreement's grant)."),
    )
    addable = serializers.BooleanField(
        help_text=_("Whether adding it to the team would show it some of its items.")
    )
    purpose = serializers.CharField(help_text=_("The purpose offered for its place on the team."))
    ends_on = serializers.DateField(help_text=_("The end date offered for its place on the team."))


class ChecklistOwnersSerializer(serializers.Serializer):
    owners = ChecklistOwnerSerializer(many=True)


class ChecklistOwnersAddedSerializer(ChecklistOwnersSerializer):
    added = serializers.ListField(
        child=serializers.IntegerField(), help_text=_("Ids of the case team entries created.")
    )


class OwnerAdditionSerializer(StrictSerializer):
    organisation = serializers.IntegerField(min_value=1, max_value=MAX_ID)
    purpose = serializers.CharField(max_length=services.PURPOSE_MAX_LENGTH)
    ends_on = serializers.DateField(
        required=False, allow_null=True, help_text=_("Null or absent: no end date.")
    )


class ChecklistOwnersPostSerializer(StrictSerializer):
    organisations = serializers.ListField(
        child=OwnerAdditionSerializer(), min_length=1, max_length=50
    )


def _owners(data: selectors.CaseOwners) -> dict[str, Any]:
    return {
        "owners": [
            {
                "organisation": {"id": r.organisation.pk, "name": r.organisation.name},
                "reason": r.reason,
                "items": [
                    {
                        "id": i.pk,
                        "title": i.display_title,
                        "category": i.category,
                        "due_on": i.due_on,
                        "version": i.version,
                    }
                    for i in r.items
                ],
                "categories": [value for value, _label in r.shown_categories],
                "addable": r.addable,
                "purpose": r.purpose,
                "ends_on": r.ends_on,
            }
            for r in data.rows
        ]
    }


class ChecklistOwnersViewSet(ApiViewSet):
    # Not DRF's "list" action: the answer is one object, not an array.
    @extend_schema(
        operation_id="v1_cases_checklist_owners_list",
        tags=["release planning"],
        summary="Checklist owners who cannot see the case",
        description="For the coordinator of the case's partnership (403 for anyone else who "
        "sees the case): the organisations owning open items of the checklist (of the "
        "categories you read) that cannot see them, because they are not on the case team, "
        "their agreement does not grant the item's category, or they left the partnership; "
        "with the items, what a place on the team would let them read, and the purpose and "
        "end date offered. Audited as a view event naming the items.",
        parameters=[CASE_ID],
        responses=answers({200: ChecklistOwnersSerializer}, 401, 403, 404),
    )
    def overview(self, request: Request, case_id: int) -> Response:
        data = selectors.checklist_owners(
            actor=request_actor(request), case_id=case_id, view="api_checklist_owners"
        )
        return Response(ChecklistOwnersSerializer(_owners(data)).data)

    @extend_schema(
        tags=["release planning"],
        summary="Add checklist owners to the case team",
        description="The coordinator only. All or none: each organisation must be a current "
        "member of the partnership, not on the team, and own an open item it cannot see "
        "whose category its agreement grants (400 otherwise, nothing changed). Each "
        "addition is a team addition like v1/cases/{case_id}/team/, audited as a disclosure "
        "naming the recipient and the legal basis. Answers the owners still unable to see "
        "the case.",
        parameters=[CASE_ID],
        request=ChecklistOwnersPostSerializer,
        responses=answers({201: ChecklistOwnersAddedSerializer}, 400, 401, 403, 404),
    )
    def create(self, request: Request, case_id: int) -> Response:
        actor = request_actor(request)
        case = selectors.case_for_owners(actor=actor, case_id=case_id, action=Action.WRITE)
        payload = ChecklistOwnersPostSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        members = services.checklist_owners_add(
            actor=actor,
            case_id=case.pk,
            additions=[
                services.OwnerAddition(
                    organisation_id=entry["organisation"],
                    purpose=entry["purpose"],
                    ends_on=entry.get("ends_on"),
                )
                for entry in payload.validated_data["organisations"]
            ],
        )
        data = selectors.checklist_owners(actor=actor, case_id=case.pk, view="api_checklist_owners")
        body = {**_owners(data), "added": [m.pk for m in members]}
        return Response(ChecklistOwnersAddedSerializer(body).data, status=status.HTTP_201_CREATED)


urlpatterns = [
    path(
        "v1/cases/<int:case_id>/checklist/",
        ChecklistViewSet.as_view({"get": "overview", "post": "create"}),
        name="v1_case_checklist",
    ),
    path(
        "v1/cases/<int:case_id>/checklist/owners/",
        ChecklistOwnersViewSet.as_view({"get": "overview", "post": "create"}),
        name="v1_checklist_owners",
    ),
    path(
        "v1/checklist-items/<int:item_id>/",
        ChecklistItemViewSet.as_view({"patch": "partial_update"}),
        name="v1_checklist_item",
    ),
    path(
        "v1/release-board/",
        ReleaseBoardViewSet.as_view({"get": "list"}),
        name="v1_release_board",
    ),
]
