"""API of a partnership's members: its members read them, its coordinator
(or the administrator) adds and ends them. No case data."""

from __future__ import annotations

from typing import Any

from django.urls import path
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from prepare.api.base import (
    MAX_ID,
    R400,
    R401,
    ApiViewSet,
    ErrorSerializer,
    OrganisationRefSerializer,
    StrictSerializer,
    request_actor,
)
from prepare.partnerships import selectors, services
from prepare.partnerships.models import Membership

TAGS = ["partnerships"]
PARTNERSHIP_ID = OpenApiParameter("partnership_id", OpenApiTypes.INT, OpenApiParameter.PATH)
MEMBERSHIP_ID = OpenApiParameter("membership_id", OpenApiTypes.INT, OpenApiParameter.PATH)
M403 = OpenApiResponse(
    ErrorSerializer,
    description="You are in the partnership but do not coordinate it: only its coordinator "
    "(or the administrator) changes its members. Nothing was saved.",
)
M404 = OpenApiResponse(
    ErrorSerializer,
    description="No such partnership or membership, or your organisation is not in the "
    "partnership (the API does not say which).",
)


class MembershipSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    organisation = OrganisationRefSerializer()
    starts_on = serializers.DateField()
    ends_on = serializers.DateField(allow_null=True)
    current = serializers.BooleanField(help_text=_("Whether it is a member today."))
    coordinating = serializers.BooleanField(
        help_text=_("The coordinating organisation, a member while it coordinates.")
    )


class MembershipAddSerializer(StrictSerializer):
    organisation = serializers.IntegerField(min_value=1, max_value=MAX_ID)
    starts_on = serializers.DateField()
    ends_on = serializers.DateField(
        required=False, allow_null=True, help_text=_("The last day; null: no end date.")
    )


class MembershipEndSerializer(StrictSerializer):
    ends_on = serializers.DateField(help_text=_("The last day the organisation is a member."))


def _row(m: Membership, *, coordinating_id: int, current: bool) -> dict[str, Any]:
    return {
        "id": m.pk,
        "organisation": {"id": m.organisation_id, "name": m.organisation.name},
        "starts_on": m.starts_on,
        "ends_on": m.ends_on,
        "current": current,
        "coordinating": m.organisation_id == coordinating_id,
    }


class MembershipsViewSet(ApiViewSet):
    @extend_schema(
        operation_id="v1_partnership_memberships_list",
        tags=TAGS,
        summary="A partnership's members, current and past",
        parameters=[PARTNERSHIP_ID],
        responses={200: MembershipSerializer(many=True), 401: R401, 404: M404},
    )
    def list(self, request: Request, partnership_id: int) -> Response:
        page = selectors.members_page(actor=request_actor(request), partnership_id=partnership_id)
        coordinating = page.partnership.coordinating_organisation_id
        rows = [_row(m, coordinating_id=coordinating, current=c) for m, c in page.rows]
        return Response(MembershipSerializer(rows, many=True).data)

    @extend_schema(
        operation_id="v1_partnership_memberships_create",
        tags=TAGS,
        summary="Add a member",
        description="An active organisation becomes a member from starts_on (an organisation "
        "whose membership ended joins again). It reads nothing until the agreement grants it "
        "categories. Logged as a permission change.",
        parameters=[PARTNERSHIP_ID],
        request=MembershipAddSerializer,
        responses={201: MembershipSerializer, 400: R400, 401: R401, 403: M403, 404: M404},
    )
    def create(self, request: Request, partnership_id: int) -> Response:
        actor = request_actor(request)
        selectors.membership_partnership_for_write(actor=actor, partnership_id=partnership_id)
        payload = MembershipAddSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        membership = services.membership_add(
            actor=actor,
            partnership_id=partnership_id,
            organisation_id=data["organisation"],
            starts_on=data["starts_on"],
            ends_on=data.get("ends_on"),
        )
        return Response(_answer(membership), status=status.HTTP_201_CREATED)


class MembershipViewSet(ApiViewSet):
    @extend_schema(
        operation_id="v1_membership_end",
        tags=TAGS,
        summary="End a membership",
        description="From the day after ends_on the organisation's people read nothing of the "
        "partnership's cases. The coordinating organisation's membership is not ended. "
        "Logged as a permission change.",
        parameters=[MEMBERSHIP_ID],
        request=MembershipEndSerializer,
        responses={200: MembershipSerializer, 400: R400, 401: R401, 403: M403, 404: M404},
    )
    def end(self, request: Request, membership_id: int) -> Response:
        actor = request_actor(request)
        membership = selectors.membership_for_write(actor=actor, membership_id=membership_id)
        payload = MembershipEndSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        membership = services.membership_end(
            actor=actor, membership_id=membership.pk, ends_on=payload.validated_data["ends_on"]
        )
        return Response(_answer(membership))


def _answer(membership: Membership) -> Any:
    today = timezone.localdate()
    current = membership.starts_on <= today and (
        membership.ends_on is None or membership.ends_on >= today
    )
    return MembershipSerializer(
        _row(
            membership,
            coordinating_id=membership.partnership.coordinating_organisation_id,
            current=current,
        )
    ).data


urlpatterns = [
    path(
        "v1/partnerships/<int:partnership_id>/memberships/",
        MembershipsViewSet.as_view({"get": "list", "post": "create"}),
        name="v1_partnership_memberships",
    ),
    path(
        "v1/memberships/<int:membership_id>/end/",
        MembershipViewSet.as_view({"post": "end"}),
        name="v1_membership_end",
    ),
]
