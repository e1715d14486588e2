"""The API of a partnership's sharing agreement and of four eyes on what widens
access: read an agreement, submit an edit (what narrows applies at once, what
widens waits), read the pending changes, approve, reject or withdraw one."""

from __future__ import annotations

import datetime
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.urls import path
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from prepare.access.categories import Category
from prepare.api.base import (
    EMPTY_BODY,
    MAX_ID,
    R401,
    ApiViewSet,
    ErrorSerializer,
    StrictSerializer,
    answers,
    request_actor,
)
from prepare.partnerships import selectors as partnership_selectors
from prepare.partnerships import services as agreements
from prepare.partnerships.access_changes import selectors, services
from prepare.partnerships.access_changes.kinds import kind_of
from prepare.partnerships.models import AccessChangeRequest, AccessChangeStatus

PARTNERSHIP_ID = OpenApiParameter("partnership_id", OpenApiTypes.INT, OpenApiParameter.PATH)
AGREEMENT_ID = OpenApiParameter("agreement_id", OpenApiTypes.INT, OpenApiParameter.PATH)
ACCESS_CHANGE_ID = OpenApiParameter("access_change_id", OpenApiTypes.INT, OpenApiParameter.PATH)
TAGS = ["partnerships"]
LEVELS = [("", _("No access")), ("read", _("Read")), ("write", _("Read and write"))]

A403 = OpenApiResponse(
    ErrorSerializer,
    description="You are in the partnership but may not do this: only its coordinators edit "
    "the agreement; its coordinators and data-protection officer decide a change; the "
    "proposer does not decide their own change; only the proposer withdraws it. Nothing "
    "was changed.",
)
A404 = OpenApiResponse(
    ErrorSerializer,
    description="No such partnership, agreement or change, or your organisation is not in "
    "the partnership (the API does not say which).",
)
A409 = OpenApiResponse(
    ErrorSerializer,
    description="Stale: the agreement changed since the digest you sent (nothing changed; "
    "read it again), or, when approving, since the change was proposed (the change is "
    "then marked superseded).",
)
A422 = OpenApiResponse(
    ErrorSerializer,
    description="The one-time code is wrong, missing or was used already (logged; it "
    "counts against your authenticator's throttle). Nothing was changed.",
)
A428 = OpenApiResponse(
    ErrorSerializer, description="No digest: send the digest of the agreement you read."
)


# --- Serializers -------------------------------------------------------------------------


class CellSerializer(serializers.Serializer):
    organisation = serializers.IntegerField(min_value=1, max_value=MAX_ID)
    category = serializers.ChoiceField(choices=Category.choices)
    access = serializers.ChoiceField(
        choices=LEVELS, help_text=_('"" (no access), "read" or "write".')
    )


class AgreementSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    partnership = serializers.IntegerField()
    title = serializers.CharField()
    valid_from = serializers.DateField()
    valid_until = serializers.DateField(allow_null=True)
    cells = CellSerializer(many=True, help_text=_("Every cell with read or write access."))
    digest = serializers.CharField(
        help_text=_("The version of the agreement (grid and period): send it with an edit.")
    )
    pending_change = serializers.IntegerField(
        allow_null=True, help_text=_("The change of this agreement waiting for approval.")
    )


class AgreementEditSerializer(StrictSerializer):
    cells = CellSerializer(
        many=True,
        max_length=2000,  # type: ignore[call-arg]  # ListSerializer takes it
        help_text=_("The cells to set; cells not sent stay as they are."),
    )
    valid_from = serializers.DateField(required=False)
    valid_until = serializers.DateField(
        required=False, allow_null=True, help_text=_("null: without an end date.")
    )
    digest = serializers.CharField(max_length=64, allow_blank=True)
    code = serializers.CharField(
        max_length=12,
        required=False,
        allow_blank=True,
        help_text=_("Your current one-time code: needed when the edit widens access."),
    )


class DiffLineSerializer(serializers.Serializer):
    subject = serializers.CharField(help_text=_("The organisation, or the period."))
    what = serializers.CharField(help_text=_("The category, or which date."))
    before = serializers.CharField()
    after = serializers.CharField()
    widens = serializers.BooleanField()


class AccessChangeSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.CharField()
    partnership = serializers.IntegerField(allow_null=True)
    status = serializers.ChoiceField(choices=AccessChangeStatus.choices)
    summary = serializers.CharField()
    proposed_by = serializers.CharField()
    proposed_at = serializers.DateTimeField()
    decided_by = serializers.CharField(allow_null=True)
    decided_at = serializers.DateTimeField(allow_null=True)
    reason = serializers.CharField(allow_blank=True)


class FactSerializer(serializers.Serializer):
    name = serializers.CharField()
    value = serializers.CharField()


class AccessChangeDetailSerializer(AccessChangeSerializer):
    title = serializers.CharField()
    lines = DiffLineSerializer(many=True)
    facts = FactSerializer(
        many=True, help_text=_("What to check it against: legal basis, reference, period.")
    )
    may_decide = serializers.BooleanField()
    may_withdraw = serializers.BooleanField()


class AccessChangeListSerializer(serializers.Serializer):
    pending = AccessChangeSerializer(many=True, help_text=_("Oldest first, at most 50."))
    more_pending = serializers.BooleanField()
    recent = AccessChangeSerializer(many=True, help_text=_("The ten decided last."))


class AgreementEditOutcomeSerializer(serializers.Serializer):
    applied = serializers.ListField(
        child=serializers.DictField(), help_text=_("The cells narrowed at once.")
    )
    period_applied = serializers.BooleanField(help_text=_("The period was shortened at once."))
    pending = AccessChangeSerializer(
        allow_null=True, help_text=_("What widens access, waiting for a second approver.")
    )


class ApproveSerializer(StrictSerializer):
    code = serializers.CharField(max_length=12, allow_blank=True)


class RejectSerializer(StrictSerializer):
    reason = serializers.CharField(max_length=services.REASON_MAX_LENGTH, allow_blank=True)


class WithdrawSerializer(StrictSerializer):
    pass


def _row(request: AccessChangeRequest) -> dict[str, Any]:
    return {
        "id": request.pk,
        "kind": request.kind,
        "partnership": request.partnership_id,
        "status": request.status,
        "summary": kind_of(request).summary(request.payload),
        "proposed_by": request.proposed_by.username,
        "proposed_at": request.proposed_at,
        "decided_by": request.decided_by.username if request.decided_by else None,
        "decided_at": request.decided_at,
        "reason": request.reason,
    }


def _detail(view: selectors.AccessChangeView) -> dict[str, Any]:
    return {
        **_row(view.request),
        "title": view.description.title,
        "lines": [line.__dict__ for line in view.description.lines],
        "facts": [{"name": k, "value": v} for k, v in view.description.facts],
        "may_decide": view.may_decide,
        "may_withdraw": view.may_withdraw,
    }


def _refused(status: int, exc: DjangoValidationError) -> Response:
    # Answered, not raised: the refusal's event (and a wrong code's throttle
    # count) are kept with the request's transaction.
    body: dict[str, Any] = (
        dict(exc.message_dict) if hasattr(exc, "error_dict") else {"detail": exc.messages[0]}
    )
    return Response(body, status=status)


# --- Views -------------------------------------------------------------------------------


class AgreementViewSet(ApiViewSet):
    @extend_schema(
        tags=TAGS,
        summary="A sharing agreement, for its coordinators",
        operation_id="v1_agreement_retrieve",
        description="Its period, every cell with access, and its digest (send it with an "
        "edit). No case data.",
        parameters=[PARTNERSHIP_ID, AGREEMENT_ID],
        responses={200: AgreementSerializer, 401: R401, 403: A403, 404: A404},
    )
    def retrieve(self, request: Request, partnership_id: int, agreement_id: int) -> Response:
        actor = request_actor(request)
        grid = partnership_selectors.agreement_grid(
            actor=actor, partnership_id=partnership_id, agreement_id=agreement_id
        )
        pending = partnership_selectors.agreement_pending_change(grid.agreement)
        data = {
            "id": grid.agreement.pk,
            "partnership": grid.partnership.pk,
            "title": grid.agreement.title,
            "valid_from": grid.agreement.valid_from,
            "valid_until": grid.agreement.valid_until,
            "cells": [
                {"organisation": org, "category": cat, "access": access}
                for (org, cat), access in sorted(grid.access.items())
                if access
            ],
            "digest": grid.digest,
            "pending_change": pending.pk if pending else None,
        }
        return Response(AgreementSerializer(data).data)

    @extend_schema(
        tags=TAGS,
        summary="Edit a sharing agreement",
        operation_id="v1_agreement_change_submit",
        description="Set cells and, if sent, the period. What narrows access (a cell removed "
        "or lowered, a shorter period) applies at once and is logged. What widens it (a cell "
        "added or raised, an earlier start, a later or no end) needs `code`, your current "
        "one-time code, and waits for a second approver as a pending change (nothing of it "
        "applies until approved); an earlier pending change of the agreement is superseded. "
        "For the partnership's coordinators.",
        parameters=[PARTNERSHIP_ID, AGREEMENT_ID],
        request=AgreementEditSerializer,
        responses=answers(
            {
                200: AgreementEditOutcomeSerializer,
                403: A403,
                404: A404,
                409: A409,
                422: A422,
                428: A428,
            },
            400,
            401,
        ),
    )
    def change(self, request: Request, partnership_id: int, agreement_id: int) -> Response:
        actor = request_actor(request)
        grid = partnership_selectors.agreement_grid(
            actor=actor, partnership_id=partnership_id, agreement_id=agreement_id
        )
        payload = AgreementEditSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        cells = {(c["organisation"], c["category"]): c["access"] for c in data["cells"]}
        valid_until: datetime.date | object | None = data.get("valid_until", agreements.UNCHANGED)
        try:
            outcome = services.agreement_change_submit(
                actor=actor,
                agreement_id=grid.agreement.pk,
                cells=cells,
                valid_from=data.get("valid_from"),
                valid_until=valid_until,
                expected_digest=data["digest"],
                code=data.get("code", ""),
            )
        except services.StepUpRefused as exc:
            return _refused(422, exc)
        return Response(
            AgreementEditOutcomeSerializer(
                {
                    "applied": outcome.applied,
                    "period_applied": outcome.period_applied,
                    "pending": _row(outcome.pending) if outcome.pending else None,
                }
            ).data
        )


class AccessChangeViewSet(ApiViewSet):
    @extend_schema(
        tags=TAGS,
        summary="Changes of access of a partnership",
        operation_id="v1_access_changes_pending",
        description="The changes that widen access waiting for a second approver (oldest "
        "first) and the ten decided last. For the partnership's coordinators and "
        "data-protection officer. No case data.",
        parameters=[PARTNERSHIP_ID],
        responses={200: AccessChangeListSerializer, 401: R401, 403: A403, 404: A404},
    )
    def pending(self, request: Request, partnership_id: int) -> Response:
        listing = selectors.access_change_list(
            actor=request_actor(request), partnership_id=partnership_id
        )
        data = {
            "pending": [_row(r.request) for r in listing.pending],
            "more_pending": listing.more_pending,
            "recent": [_row(r.request) for r in listing.recent],
        }
        return Response(AccessChangeListSerializer(data).data)

    @extend_schema(
        tags=TAGS,
        summary="One change of access, with what it does",
        operation_id="v1_access_change_retrieve",
        description="Each line: the organisation (or the period), the category (or the "
        "date), before, after, and whether it widens access. For its approvers.",
        parameters=[ACCESS_CHANGE_ID],
        responses={200: AccessChangeDetailSerializer, 401: R401, 403: A403, 404: A404},
    )
    def retrieve(self, request: Request, access_change_id: int) -> Response:
        view = selectors.access_change_view(
            actor=request_actor(request), request_id=access_change_id
        )
        return Response(AccessChangeDetailSerializer(_detail(view)).data)

    @extend_schema(
        tags=TAGS,
        summary="Approve a change of access",
        operation_id="v1_access_change_approve",
        description="With your current one-time code. Not your own change (403, logged). The "
        "change applies now if what it changes is as it was when proposed; otherwise it is "
        "refused as stale (409) and marked superseded. Logged.",
        parameters=[ACCESS_CHANGE_ID],
        request=ApproveSerializer,
        responses=answers(
            {200: AccessChangeSerializer, 403: A403, 404: A404, 409: A409, 422: A422}, 400, 401
        ),
    )
    def approve(self, request: Request, access_change_id: int) -> Response:
        payload = ApproveSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        try:
            decided = services.access_change_approve(
                actor=request_actor(request),
                request_id=access_change_id,
                code=payload.validated_data["code"],
            )
        except services.SecondApproverRequired as exc:
            return _refused(403, exc)
        except services.StepUpRefused as exc:
            return _refused(422, exc)
        except services.StaleAccessChange as exc:
            return _refused(409, exc)
        return Response(AccessChangeSerializer(_row(decided)).data)

    @extend_schema(
        tags=TAGS,
        summary="Reject a change of access",
        operation_id="v1_access_change_reject",
        description="Saying why (the proposer reads it). Not your own change (403, logged); "
        "nothing of the change applies. Logged without the reason's text.",
        parameters=[ACCESS_CHANGE_ID],
        request=RejectSerializer,
        responses=answers({200: AccessChangeSerializer, 403: A403, 404: A404}, 400, 401),
    )
    def reject(self, request: Request, access_change_id: int) -> Response:
        payload = RejectSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        try:
            decided = services.access_change_reject(
                actor=request_actor(request),
                request_id=access_change_id,
                reason=payload.validated_data["reason"],
            )
        except services.SecondApproverRequired as exc:
            return _refused(403, exc)
        return Response(AccessChangeSerializer(_row(decided)).data)

    @extend_schema(
        tags=TAGS,
        summary="Withdraw your change of access",
        operation_id="v1_access_change_withdraw",
        description="The proposer takes back their pending change. Logged.",
        parameters=[ACCESS_CHANGE_ID],
        request=EMPTY_BODY,
        responses=answers({200: AccessChangeSerializer, 403: A403, 404: A404}, 400, 401),
    )
    def withdraw(self, request: Request, access_change_id: int) -> Response:
        WithdrawSerializer(data=request.data).is_valid(raise_exception=True)
        decided = services.access_change_withdraw(
            actor=request_actor(request), request_id=access_change_id
        )
        return Response(AccessChangeSerializer(_row(decided)).data)


urlpatterns = [
    path(
        "v1/partnerships/<int:partnership_id>/agreements/<int:agreement_id>/",
        AgreementViewSet.as_view({"get": "retrieve"}),
        name="v1_agreement",
    ),
    path(
        "v1/partnerships/<int:partnership_id>/agreements/<int:agreement_id>/changes/",
        AgreementViewSet.as_view({"post": "change"}),
        name="v1_agreement_changes",
    ),
    path(
        "v1/partnerships/<int:partnership_id>/access-changes/",
        AccessChangeViewSet.as_view({"get": "pending"}),
        name="v1_access_changes",
    ),
    path(
        "v1/access-changes/<int:access_change_id>/",
        AccessChangeViewSet.as_view({"get": "retrieve"}),
        name="v1_access_change",
    ),
    path(
        "v1/access-changes/<int:access_change_id>/approve/",
        AccessChangeViewSet.as_view({"post": "approve"}),
        name="v1_access_change_approve",
    ),
    path(
        "v1/access-changes/<int:access_change_id>/reject/",
        AccessChangeViewSet.as_view({"post": "reject"}),
        name="v1_access_change_reject",
    ),
    path(
        "v1/access-changes/<int:access_change_id>/withdraw/",
        AccessChangeViewSet.as_view({"post": "withdraw"}),
        name="v1_access_change_withdraw",
    ),
]
