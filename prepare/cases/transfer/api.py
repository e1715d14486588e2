from __future__ import annotations

from typing import Any

from django.urls import path
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from prepare.access.categories import Category
from prepare.api.base import (
    CASE_ID,
    MAX_ID,
    R400,
    R401,
    R403,
    R404_PAGE,
    ApiViewSet,
    OrganisationRefSerializer,
    QueryParamsSerializer,
    StrictSerializer,
    answers,
    request_actor,
)
from prepare.api.pagination import CappedPagination
from prepare.cases.models import DataSubjectCategory, TransferStatus
from prepare.cases.transfer import selectors as transfer_selectors
from prepare.cases.transfer import services as transfer_services

# --- Serializers ------------------------------------------------------------------

DIRECTIONS = [("in", _("Into your partnerships")), ("out", _("Out of your partnerships"))]


class TransferCreateSerializer(StrictSerializer):
    """A proposal to move the case to another partnership."""

    to_partnership = serializers.IntegerField(
        min_value=1, max_value=MAX_ID, help_text=_("Id of the receiving partnership.")
    )
    handover_summary = serializers.CharField(
        max_length=transfer_selectors.SUMMARY_MAX_LENGTH,
        help_text=_("What the receiving team needs to know."),
    )
    summary_category = serializers.ChoiceField(
        choices=Category.choices,
        help_text=_(
            "The category of the summary: the receiver sees it only if their agreement "
            "grants it. You must be allowed to write it."
        ),
    )
    categories = serializers.ListField(
        child=serializers.ChoiceField(choices=Category.choices),
        required=False,
        allow_empty=False,
        max_length=len(Category.values),
        help_text=_(
            "The categories of case records handed over: on acceptance their records move "
            "to the receiving partnership, the others stay with yours. Omitted: the "
            "categories both agreements grant to someone, never intelligence. An empty list "
            "is refused."
        ),
    )


class TransferDecisionSerializer(StrictSerializer):
    reason = serializers.CharField(
        max_length=transfer_selectors.REASON_MAX_LENGTH,
        required=False,
        allow_blank=True,
        help_text=_("Why (required to decline)."),
    )


class TransferListQuerySerializer(QueryParamsSerializer):
    direction = serializers.ChoiceField(
        choices=DIRECTIONS,
        required=False,
        help_text=_("Only transfers in this direction; both by default."),
    )
    status = serializers.ChoiceField(
        choices=TransferStatus.choices,
        required=False,
        help_text=_("Only transfers in this status."),
    )


class PartnershipRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


class PackagePersonSerializer(serializers.Serializer):
    given_name = serializers.CharField()
    family_name = serializers.CharField()
    birth_date = serializers.DateField(allow_null=True)
    data_subject_category = serializers.ChoiceField(choices=DataSubjectCategory.choices)


class PackageCategorySerializer(serializers.Serializer):
    category = serializers.ChoiceField(choices=Category.choices)
    records = serializers.IntegerField(
        allow_null=True,
        help_text=_(
            "For the receiver of an open proposal: the case's records in this category that "
            "would be handed over. Null otherwise."
        ),
    )
    readable = serializers.BooleanField(
        help_text=_("Whether your organisation reads this category in the receiving partnership.")
    )


class TransferSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    case = serializers.IntegerField()
    reference = serializers.CharField(
        allow_null=True,
        help_text=_("Null for the receiver once the transfer was declined or withdrawn."),
    )
    direction = serializers.ChoiceField(choices=DIRECTIONS)
    from_partnership = PartnershipRefSerializer()
    to_partnership = PartnershipRefSerializer()
    recipient_organisation = OrganisationRefSerializer()
    status = serializers.ChoiceField(choices=TransferStatus.choices)
    summary_category = serializers.ChoiceField(choices=Category.choices)
    handover_summary = serializers.CharField(
        allow_null=True, help_text=_("Null unless your agreement grants its category.")
    )
    person = PackagePersonSerializer(
        allow_null=True, help_text=_("Null unless your agreement grants identity.")
    )
    categories = PackageCategorySerializer(
        many=True,
        allow_null=True,
        help_text=_(
            "The categories of case records handed over (for the receiver of an open "
            "proposal, with the number of records in each). Null for a receiver once the "
            "transfer was declined or withdrawn."
        ),
    )
    records_kept = serializers.IntegerField(
        allow_null=True,
        help_text=_(
            "For the receiver of an open proposal: how many records, in the categories not "
            "handed over, stay with the sending partnership. Null otherwise."
        ),
    )
    proposed_at = serializers.DateTimeField()
    decided_at = serializers.DateTimeField(allow_null=True)
    decision_reason = serializers.CharField(allow_blank=True)
    may_decide = serializers.BooleanField()
    may_withdraw = serializers.BooleanField()


def _row(view: transfer_selectors.TransferView) -> dict[str, Any]:
    t = view.transfer
    person = view.person
    return {
        "id": t.pk,
        "case": t.case_id,
        "reference": view.reference,
        "direction": "in" if view.incoming else "out",
        "from_partnership": {"id": t.from_partnership_id, "name": t.from_partnership.name},
        "to_partnership": {"id": t.to_partnership_id, "name": t.to_partnership.name},
        "recipient_organisation": {
            "id": t.to_partnership.coordinating_organisation_id,
            "name": t.to_partnership.coordinating_organisation.name,
        },
        "status": t.status,
        "summary_category": t.summary_category,
        "handover_summary": view.summary,
        "person": {
            "given_name": person.given_name,
            "family_name": person.family_name,
            "birth_date": person.birth_date,
            "data_subject_category": person.data_subject_category,
        }
        if person is not None
        else None,
        "categories": [
            {"category": c.category, "records": c.records, "readable": c.readable}
            for c in view.categories
        ]
        if view.categories is not None
        else None,
        "records_kept": view.withheld,
        "proposed_at": t.proposed_at,
        "decided_at": t.decided_at,
        "decision_reason": t.decision_reason,
        "may_decide": view.may_decide,
        "may_withdraw": view.may_withdraw,
    }


class TransferConflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = transfer_services.TransferDecided.message
    default_code = "transfer_closed"


TRANSFER_ID = OpenApiParameter("transfer_id", OpenApiTypes.INT, OpenApiParameter.PATH)
R404_TRANSFER = OpenApiResponse(
    description="No such transfer, or you coordinate neither of its partnerships.",
)
R409_TRANSFER = OpenApiResponse(
    description="The transfer is no longer open (accepted, declined or withdrawn meanwhile). "
    "Nothing was changed.",
)

# What accepting, declining and withdrawing a transfer may answer.
DECISION_RESPONSES = {
    200: TransferSerializer,
    400: R400,
    401: R401,
    403: R403,
    404: R404_TRANSFER,
    409: R409_TRANSFER,
}


def _decided(call: Any) -> Any:
    try:
        return call()
    except transfer_services.TransferDecided as exc:
        raise TransferConflict from exc


# --- Views ------------------------------------------------------------------------


class CaseTransferViewSet(ApiViewSet):
    @extend_schema(
        tags=["transfers"],
        summary="Propose a transfer",
        description="Proposes to move the case to another partnership, with a handover "
        "summary in one category and the categories of case records handed over. The "
        "coordinator of the case's partnership only; one open proposal per case. Logged as a "
        "transfer event with the sending agreement's legal basis, the categories handed over "
        "and their numbers of records.",
        parameters=[CASE_ID],
        request=TransferCreateSerializer,
        responses=answers({201: TransferSerializer}, 400, 401, 403, 404),
    )
    def create(self, request: Request, case_id: int) -> Response:
        actor = request_actor(request)
        transfer_selectors.propose_check(actor=actor, case_id=case_id)
        payload = TransferCreateSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        transfer = transfer_services.transfer_propose(
            actor=actor,
            case_id=case_id,
            to_partnership_id=data["to_partnership"],
            handover_summary=data["handover_summary"],
            summary_category=data["summary_category"],
            categories=data.get("categories"),
        )
        view = transfer_selectors.transfer_after_write(actor=actor, transfer_id=transfer.pk)
        return Response(TransferSerializer(_row(view)).data, status=status.HTTP_201_CREATED)


class TransferViewSet(ApiViewSet):
    pagination_class = CappedPagination

    @extend_schema(
        tags=["transfers"],
        summary="Your transfers",
        description="Transfers into and out of the partnerships you coordinate, newest first. "
        "Incoming ones carry the package: only what your agreement allows. Audited as one "
        "list event.",
        parameters=[TransferListQuerySerializer],
        responses=answers({200: TransferSerializer(many=True), 404: R404_PAGE}, 400, 401),
    )
    def list(self, request: Request) -> Response:
        query = TransferListQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        actor = request_actor(request)
        paginator = self.pagination_class()
        views = transfer_selectors.transfer_page(
            actor=actor,
            transfers=transfer_selectors.transfer_queryset(
                actor=actor,
                direction=query.validated_data.get("direction", ""),
                status=query.validated_data.get("status", ""),
            ),
            paginate=lambda qs: paginator.paginate_queryset(qs, request, self),
            view="api.transfers",
        )
        return paginator.get_paginated_response(
            TransferSerializer([_row(v) for v in views], many=True).data
        )

    @extend_schema(
        tags=["transfers"],
        summary="One transfer (the package)",
        description="For the receiving coordinator: the handover summary if its category is "
        "granted to your organisation, the person if identity is, the categories handed over "
        "with their number of records, and how many records stay with the sender (numbers "
        "only). Audited, with the numbers shown.",
        parameters=[TRANSFER_ID],
        responses={200: TransferSerializer, 401: R401, 404: R404_TRANSFER},
    )
    def retrieve(self, request: Request, transfer_id: int) -> Response:
        view = transfer_selectors.transfer_package(
            actor=request_actor(request), transfer_id=transfer_id, view="api.transfer"
        )
        return Response(TransferSerializer(_row(view)).data)

    def _decision(self, request: Request) -> str:
        payload = TransferDecisionSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        return str(payload.validated_data.get("reason", ""))

    def _answer(self, request: Request, transfer_id: int) -> Response:
        view = transfer_selectors.transfer_after_write(
            actor=request_actor(request), transfer_id=transfer_id
        )
        return Response(TransferSerializer(_row(view)).data)

    @extend_schema(
        tags=["transfers"],
        summary="Accept a transfer",
        description="The receiving coordinator only. The case moves to your partnership; the "
        "old team keeps read-only access, for the sending partnership's grace period, to what it "
        "read before the move (never what your partnership writes or corrects after). Logged "
        "on both sides with the legal basis of both agreements.",
        parameters=[TRANSFER_ID],
        request=TransferDecisionSerializer,
        responses=DECISION_RESPONSES,
    )
    def accept(self, request: Request, transfer_id: int) -> Response:
        actor = request_actor(request)
        transfer_selectors.transfer_decision_check(actor=actor, transfer_id=transfer_id)
        reason = self._decision(request)
        _decided(
            lambda: transfer_services.transfer_accept(
                actor=actor, transfer_id=transfer_id, reason=reason
            )
        )
        return self._answer(request, transfer_id)

    @extend_schema(
        tags=["transfers"],
        summary="Decline a transfer",
        description="The receiving coordinator only, with a reason. The case stays where it "
        "is. Logged.",
        parameters=[TRANSFER_ID],
        request=TransferDecisionSerializer,
        responses=DECISION_RESPONSES,
    )
    def decline(self, request: Request, transfer_id: int) -> Response:
        actor = request_actor(request)
        transfer_selectors.transfer_decision_check(actor=actor, transfer_id=transfer_id)
        reason = self._decision(request)
        _decided(
            lambda: transfer_services.transfer_decline(
                actor=actor, transfer_id=transfer_id, reason=reason
            )
        )
        return self._answer(request, transfer_id)

    @extend_schema(
        tags=["transfers"],
        summary="Withdraw a transfer",
        description="The sending partnership's coordinator, while the transfer is open, with "
        "an optional reason. Logged.",
        parameters=[TRANSFER_ID],
        request=TransferDecisionSerializer,
        responses=DECISION_RESPONSES,
    )
    def withdraw(self, request: Request, transfer_id: int) -> Response:
        actor = request_actor(request)
        transfer_selectors.transfer_get(actor=actor, transfer_id=transfer_id)
        reason = self._decision(request)
        _decided(
            lambda: transfer_services.transfer_withdraw(
                actor=actor, transfer_id=transfer_id, reason=reason
            )
        )
        return self._answer(request, transfer_id)


# --- Routes (included by ``prepare.api.urls``) ---------------------------------------

urlpatterns = [
    path(
        "v1/cases/<int:case_id>/transfers/",
        CaseTransferViewSet.as_view({"post": "create"}),
        name="v1_case_transfers",
    ),
    path("v1/transfers/", TransferViewSet.as_view({"get": "list"}), name="v1_transfers"),
    path(
        "v1/transfers/<int:transfer_id>/",
        TransferViewSet.as_view({"get": "retrieve"}),
        name="v1_transfer",
    ),
    path(
        "v1/transfers/<int:transfer_id>/accept/",
        TransferViewSet.as_view({"post": "accept"}),
        name="v1_transfer_accept",
    ),
    path(
        "v1/transfers/<int:transfer_id>/decline/",
        TransferViewSet.as_view({"post": "decline"}),
        name="v1_transfer_decline",
    ),
    path(
        "v1/transfers/<int:transfer_id>/withdraw/",
        TransferViewSet.as_view({"post": "withdraw"}),
        name="v1_transfer_withdraw",
    ),
]
