"""REST API v1 for a case's legal holds (``prepare.cases.retention``): an
invisible case answers 404, a visible case whose holds the actor may not change
403; placing and releasing a hold are audited by the service."""

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

from prepare.accounts.models import User
from prepare.api.base import (
    CASE_ID,
    EMPTY_BODY,
    ApiViewSet,
    ErrorSerializer,
    StrictSerializer,
    UserRefSerializer,
    answers,
    request_actor,
)
from prepare.cases.retention import selectors as retention_selectors
from prepare.cases.retention import services as retention_services
from prepare.partnerships.models import RetentionAction

# The web form's limit (``prepare.cases.retention.forms.LegalHoldForm``) and the model's.
REASON_MAX_LENGTH = 2000
HOLD_ID = OpenApiParameter("hold_id", OpenApiTypes.INT, OpenApiParameter.PATH)


def _user_ref(user: User | None) -> dict[str, Any] | None:
    if user is None:
        return None
    return {"id": user.pk, "username": user.get_username(), "name": user.get_full_name()}


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


def _hold_row(row: retention_selectors.HoldRow, manage: bool) -> dict[str, Any]:
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
    # Not DRF's "list" action: the answer is one object, not an array.
    @extend_schema(
        tags=["legal holds"],
        summary="Retention and legal holds of a case",
        operation_id="v1_case_legal_holds_list",
        description="The case's retention date and its legal holds, as in the retention "
        "section of the case page: everyone who sees the case sees whether a hold keeps "
        "it; the reasons, who placed them and the past holds are for the coordinator of "
        "the case's partnership. Audited as a view event.",
        parameters=[CASE_ID],
        responses=answers({200: LegalHoldsSerializer}, 401, 404),
    )
    def overview(self, request: Request, case_id: int) -> Response:
        overview = retention_selectors.retention_overview(
            actor=request_actor(request), case_id=case_id, view="api_legal_holds"
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
        responses=answers({201: LegalHoldSerializer, 403: R403_HOLDS}, 400, 401, 404),
    )
    def create(self, request: Request, case_id: int) -> Response:
        actor = request_actor(request)
        # Who may not change the case's holds gets 404 or 403 before any input check.
        retention_selectors.legal_hold_check(actor=actor, case_id=case_id)
        payload = LegalHoldPlaceSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        # The service's refusals (a date in the past) answer 400 on their field.
        hold = retention_services.legal_hold_place(
            actor=actor, case_id=case_id, reason=data["reason"], until=data["until"]
        )
        # In force: the service accepts only a day from today on.
        row = retention_selectors.HoldRow(hold=hold, active=True)
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
        responses=answers(
            {200: LegalHoldSerializer, 403: R403_HOLDS, 422: R422_RELEASED}, 400, 401, 404
        ),
    )
    def release(self, request: Request, case_id: int, hold_id: int) -> Response:
        actor = request_actor(request)
        retention_selectors.hold_of_case(hold_id=hold_id, case_id=case_id)
        retention_selectors.legal_hold_check(actor=actor, case_id=case_id)
        LegalHoldReleaseSerializer(data=request.data).is_valid(raise_exception=True)
        try:
            hold = retention_services.legal_hold_release(
                actor=actor, hold_id=hold_id, case_id=case_id
            )
        except DjangoValidationError as exc:
            raise HoldReleased(detail=" ".join(exc.messages)) from exc
        row = retention_selectors.HoldRow(hold=hold, active=False)
        return Response(LegalHoldSerializer(_hold_row(row, manage=True)).data)


# --- Routes (included by ``prepare.api.urls``) ---------------------------------------


urlpatterns = [
    path(
        "v1/cases/<int:case_id>/legal-holds/",
        LegalHoldViewSet.as_view({"get": "overview", "post": "create"}),
        name="v1_case_legal_holds",
    ),
    path(
        "v1/cases/<int:case_id>/legal-holds/<int:hold_id>/release/",
        LegalHoldViewSet.as_view({"post": "release"}),
        name="v1_case_legal_hold_release",
    ),
]
