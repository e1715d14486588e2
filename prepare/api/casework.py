"""REST API v1 for day-to-day casework: my tasks, a case's timeline, legal holds.

The same reads and services as the web pages: ``prepare.plans.selectors``
(``owed_tasks``, ``tasks_read``) for what the actor owes,
``prepare.cases.timeline`` for the timeline and ``prepare.cases.retention``
for the legal holds. An invisible case answers 404; a visible case whose holds
the actor may not change 403. Each read is one audit event (the tasks also log
the signals they list); placing and releasing a hold are audited by the service.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.urls import path
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
)
from rest_framework import exceptions, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from prepare.access.categories import Category
from prepare.accounts.models import User
from prepare.api.notifications import EMPTY_BODY
from prepare.api.pagination import MAX_PAGE, CappedPagination
from prepare.api.serializers import (
    ErrorSerializer,
    OrganisationRefSerializer,
    PersonNameSerializer,
    StrictSerializer,
    UserRefSerializer,
)
from prepare.api.views import CASE_ID, R400, R401, R404, R404_PAGE, ApiViewSet, _actor
from prepare.cases import retention, timeline
from prepare.monitoring.models import Severity
from prepare.partnerships.models import RetentionAction
from prepare.plans import selectors as plan_selectors

# The web form's limit (``retention_views.LegalHoldForm``) and the model's.
REASON_MAX_LENGTH = 2000

# --- Shared ----------------------------------------------------------------------------

PAGE = OpenApiParameter(
    "page",
    OpenApiTypes.INT,
    OpenApiParameter.QUERY,
    description=f"Page number, from 1 (at most {MAX_PAGE}).",
)
PAGE_SIZE = OpenApiParameter(
    "page_size",
    OpenApiTypes.INT,
    OpenApiParameter.QUERY,
    description=f"Results per page (default {CappedPagination.page_size}, "
    f"at most {CappedPagination.max_page_size}).",
)
HOLD_ID = OpenApiParameter("hold_id", OpenApiTypes.INT, OpenApiParameter.PATH)


def _user_ref(user: User | None) -> dict[str, Any] | None:
    if user is None:
        return None
    return {"id": user.pk, "username": user.get_username(), "name": user.get_full_name()}


# --- My tasks --------------------------------------------------------------------------


class TaskItemSerializer(serializers.Serializer):
    id = serializers.IntegerField(help_text=_("The checklist item's id."))
    case = serializers.IntegerField()
    reference = serializers.CharField(help_text=_("The case's reference."))
    title = serializers.CharField()
    category = serializers.ChoiceField(choices=Category.choices)
    due_on = serializers.DateField(allow_null=True)
    overdue = serializers.BooleanField()
    person = PersonNameSerializer(
        allow_null=True,
        help_text=_("Null unless the identity category is granted for this case."),
    )
    assigned_to_me = serializers.BooleanField(
        help_text=_("True if the item is assigned to you, false if to your organisation.")
    )
    owner_organisation = OrganisationRefSerializer(allow_null=True)


class TaskSignalSerializer(serializers.Serializer):
    id = serializers.IntegerField(help_text=_("The signal's id."))
    case = serializers.IntegerField()
    reference = serializers.CharField(help_text=_("The case's reference."))
    severity = serializers.ChoiceField(choices=Severity.choices)
    category = serializers.ChoiceField(choices=Category.choices)
    raised_at = serializers.DateTimeField()


class MyTasksSerializer(serializers.Serializer):
    count = serializers.IntegerField(help_text=_("Number of items owed, counted up to a cap."))
    count_capped = serializers.BooleanField(help_text=_("True when there are more items."))
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = TaskItemSerializer(
        many=True,
        help_text=_(
            "The open checklist items assigned to you, or to your organisation and "
            "nobody in it yet; the soonest due (so the overdue) first."
        ),
    )
    signals = TaskSignalSerializer(
        many=True,
        help_text=_(
            "The escalated signals waiting for your acknowledgement, most severe and "
            "newest first (the same on every page)."
        ),
    )


def _task_row(row: plan_selectors.TaskRow) -> dict[str, Any]:
    item = row.item
    case = item.case
    owner = item.owner_organisation
    return {
        "id": item.pk,
        "case": case.pk,
        "reference": case.reference,
        "title": item.display_title,
        "category": item.category,
        "due_on": item.due_on,
        "overdue": row.overdue,
        "person": {"given_name": case.person.given_name, "family_name": case.person.family_name}
        if row.show_identity
        else None,
        "assigned_to_me": row.assigned_to_me,
        "owner_organisation": {"id": owner.pk, "name": owner.name} if owner else None,
    }


def _signal_row(signal: Any) -> dict[str, Any]:
    return {
        "id": signal.pk,
        "case": signal.case_id,
        "reference": signal.case.reference,
        "severity": signal.severity,
        "category": signal.category,
        "raised_at": signal.raised_at,
    }


class MyTasksViewSet(ApiViewSet):
    @extend_schema(
        tags=["my tasks"],
        summary="Your tasks",
        operation_id="v1_my_tasks_list",
        description="What the web page My tasks shows: the open checklist items you or "
        "your organisation owe (paginated, the soonest due first) and the escalated "
        "signals waiting for your acknowledgement. The person's name is null unless "
        "identity is granted. Audited as list events naming the cases returned.",
        parameters=[PAGE, PAGE_SIZE],
        responses={200: MyTasksSerializer, 400: R400, 401: R401, 404: R404_PAGE},
    )
    def list(self, request: Request) -> Response:
        actor = _actor(request)
        paginator = CappedPagination()
        items = paginator.paginate_queryset(plan_selectors.owed_tasks(actor), request, self)
        tasks = plan_selectors.tasks_read(
            actor=actor, items=items, view="api_my_tasks", signals_view="api_my_tasks_signals"
        )
        body = paginator.get_paginated_response([_task_row(r) for r in tasks.rows]).data | {
            "signals": [_signal_row(s) for s in tasks.signals or []]
        }
        return Response(MyTasksSerializer(body).data)


# --- Timeline --------------------------------------------------------------------------

TIMELINE_KINDS = ["transition", "contact", "signal", "key_date", "checklist"]


@extend_schema_field(
    {"type": "string", "enum": TIMELINE_KINDS}, component_name="TimelineEntryKindEnum"
)
class TimelineKindField(serializers.ChoiceField):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(choices=[(k, k) for k in TIMELINE_KINDS], **kwargs)


class TimelineEntrySerializer(serializers.Serializer):
    at = serializers.DateTimeField(help_text=_("When it happened (a key date: its day, noon)."))
    kind = TimelineKindField()
    title = serializers.CharField(help_text=_("In the language of your request."))
    text = serializers.CharField(allow_blank=True)
    category = serializers.ChoiceField(choices=Category.choices)
    actor = serializers.CharField(allow_blank=True, help_text=_("Who did it, by name."))


class TimelineViewSet(ApiViewSet):
    @extend_schema(
        tags=["cases"],
        summary="Timeline of a case",
        operation_id="v1_case_timeline_list",
        description="Status changes, contacts, signals, key dates and completed checklist "
        "items of the case in one list, newest first, as on the web timeline: only the "
        "entries whose category is granted to you, and the most recent "
        f"{timeline.PER_SOURCE} of each kind (not paginated, as on the web). "
        "Audited as a view event.",
        parameters=[CASE_ID],
        responses={200: TimelineEntrySerializer(many=True), 401: R401, 404: R404},
    )
    def list(self, request: Request, case_id: int) -> Response:
        _case, entries = timeline.case_timeline(
            actor=_actor(request), case_id=case_id, view="api_timeline"
        )
        rows = [
            {
                "at": e.at,
                "kind": e.kind,
                "title": e.title,
                "text": e.text,
                "category": e.category,
                "actor": e.actor,
            }
            for e in entries
        ]
        return Response(TimelineEntrySerializer(rows, many=True).data)


# --- Legal holds -----------------------------------------------------------------------


@extend_schema_field(
    {"type": "string", "enum": list(RetentionAction.values)},
    component_name="RetentionActionEnum",
)
class RetentionActionField(serializers.ChoiceField):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(choices=RetentionAction.choices, **kwargs)


class LegalHoldSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    until = serializers.DateField(help_text=_("Retention cannot touch the case up to this day."))
    active = serializers.BooleanField(help_text=_("In force: not released and not ended."))
    reason = serializers.CharField(
        allow_null=True, help_text=_("Null unless you manage the case's holds.")
    )
    placed_by = UserRefSerializer(
        allow_null=True, help_text=_("Null unless you manage the case's holds.")
    )
    placed_at = serializers.DateTimeField(
        allow_null=True, help_text=_("Null unless you manage the case's holds.")
    )
    released_at = serializers.DateTimeField(allow_null=True)


class LegalHoldsSerializer(serializers.Serializer):
    case = serializers.IntegerField()
    retention_years = serializers.IntegerField(
        help_text=_("The partnership's rule: years after closure.")
    )
    retention_action = RetentionActionField(help_text=_("What retention does then."))
    retention_due_on = serializers.DateField(
        allow_null=True,
        help_text=_("When retention runs out; null until the case is closed."),
    )
    held = serializers.BooleanField(help_text=_("Whether a legal hold is in force."))
    manage = serializers.BooleanField(
        help_text=_("Whether you may place and release holds and read their reasons.")
    )
    holds = LegalHoldSerializer(
        many=True,
        help_text=_(
            "Newest first: every hold to those who manage them, else the holds in force only."
        ),
    )


class LegalHoldPlaceSerializer(StrictSerializer):
    reason = serializers.CharField(
        max_length=REASON_MAX_LENGTH,
        help_text=_("Why the case must be kept; only the coordinator and the DPO read it."),
    )
    until = serializers.DateField(help_text=_("Today or later; the hold lasts up to this day."))


class LegalHoldReleaseSerializer(StrictSerializer):
    """Nothing to send: an empty object (or no body)."""


def _hold_row(row: retention.HoldRow, manage: bool) -> dict[str, Any]:
    hold = row.hold
    return {
        "id": hold.pk,
        "until": hold.until,
        "active": row.active,
        "reason": hold.reason if manage else None,
        "placed_by": _user_ref(hold.placed_by) if manage else None,
        "placed_at": hold.placed_at if manage else None,
        "released_at": hold.released_at,
    }


class HoldReleased(exceptions.APIException):
    status_code = 422
    default_detail = _("This hold was already released.")
    default_code = "released"


R403_HOLDS = OpenApiResponse(
    ErrorSerializer,
    description="The case is visible but you do not coordinate its partnership. Nothing was saved.",
)
R422_RELEASED = OpenApiResponse(
    ErrorSerializer, description="The hold was already released; nothing was changed."
)


class LegalHoldViewSet(ApiViewSet):
    @extend_schema(
        tags=["legal holds"],
        summary="Retention and legal holds of a case",
        operation_id="v1_case_legal_holds_list",
        description="The case's retention date and its legal holds, as in the retention "
        "section of the case page: everyone who sees the case sees whether a hold keeps "
        "it; the reasons, who placed them and the past holds are for the coordinator of "
        "the case's partnership. Audited as a view event.",
        parameters=[CASE_ID],
        responses={200: LegalHoldsSerializer, 401: R401, 404: R404},
    )
    def list(self, request: Request, case_id: int) -> Response:
        overview = retention.retention_overview(
            actor=_actor(request), case_id=case_id, view="api_legal_holds"
        )
        body = {
            "case": overview.case.pk,
            "retention_years": overview.years,
            "retention_action": overview.action,
            "retention_due_on": overview.due_on if overview.applies else None,
            "held": overview.held,
            "manage": overview.manage,
            "holds": [_hold_row(row, overview.manage) for row in overview.holds],
        }
        return Response(LegalHoldsSerializer(body).data)

    @extend_schema(
        tags=["legal holds"],
        summary="Place a legal hold",
        operation_id="v1_case_legal_holds_create",
        description="Keeps the case from retention (erasure or anonymisation) until the "
        "day given, saying why. The coordinator of the case's partnership only. "
        "Recorded and audited.",
        parameters=[CASE_ID],
        request=LegalHoldPlaceSerializer,
        responses={
            201: LegalHoldSerializer,
            400: R400,
            401: R401,
            403: R403_HOLDS,
            404: R404,
        },
    )
    def create(self, request: Request, case_id: int) -> Response:
        actor = _actor(request)
        # Who may not change the case's holds gets 404 or 403 before any input check.
        retention.legal_hold_check(actor=actor, case_id=case_id)
        payload = LegalHoldPlaceSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        # The service's refusals (a date in the past) answer 400 on their field.
        hold = retention.legal_hold_place(
            actor=actor, case_id=case_id, reason=data["reason"], until=data["until"]
        )
        # In force: the service accepts only a day from today on.
        row = retention.HoldRow(hold=hold, active=True)
        return Response(
            LegalHoldSerializer(_hold_row(row, manage=True)).data,
            status=status.HTTP_201_CREATED,
        )

    @extend_schema(
        tags=["legal holds"],
        summary="Release a legal hold",
        operation_id="v1_case_legal_hold_release",
        description="Ends the hold before its day; retention may then apply again. A hold "
        "is reached only under its own case. The coordinator of the case's partnership "
        "only. Recorded and audited.",
        parameters=[CASE_ID, HOLD_ID],
        request=EMPTY_BODY,
        responses={
            200: LegalHoldSerializer,
            400: R400,
            401: R401,
            403: R403_HOLDS,
            404: R404,
            422: R422_RELEASED,
        },
    )
    def release(self, request: Request, case_id: int, hold_id: int) -> Response:
        actor = _actor(request)
        retention.hold_of_case(hold_id=hold_id, case_id=case_id)
        retention.legal_hold_check(actor=actor, case_id=case_id)
        LegalHoldReleaseSerializer(data=request.data).is_valid(raise_exception=True)
        try:
            hold = retention.legal_hold_release(actor=actor, hold_id=hold_id, case_id=case_id)
        except DjangoValidationError as exc:
            raise HoldReleased(detail=" ".join(exc.messages)) from exc
        row = retention.HoldRow(hold=hold, active=False)
        return Response(LegalHoldSerializer(_hold_row(row, manage=True)).data)


# --- Routes (included by ``prepare.api.urls``) ---------------------------------------

urlpatterns = [
    path("v1/my-tasks/", MyTasksViewSet.as_view({"get": "list"}), name="v1_my_tasks"),
    path(
        "v1/cases/<int:case_id>/timeline/",
        TimelineViewSet.as_view({"get": "list"}),
        name="v1_case_timeline",
    ),
    path(
        "v1/cases/<int:case_id>/legal-holds/",
        LegalHoldViewSet.as_view({"get": "list", "post": "create"}),
        name="v1_case_legal_holds",
    ),
    path(
        "v1/cases/<int:case_id>/legal-holds/<int:hold_id>/release/",
        LegalHoldViewSet.as_view({"post": "release"}),
        name="v1_case_legal_hold_release",
    ),
]
