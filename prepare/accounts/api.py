"""REST API v1: who the caller is and what they may do, without case data."""

from __future__ import annotations

from django.urls import path
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from prepare.access.categories import Action, Category
from prepare.access.policy import categories_of, coordinates, member_partnership_ids
from prepare.accounts import staff_api
from prepare.accounts.models import Organisation, OrganisationType, Role
from prepare.accounts.services import sessions_end_for
from prepare.api import schema as _schema  # noqa: F401  (registers the auth extensions)
from prepare.api.base import (
    EMPTY_BODY,
    R401,
    ApiViewSet,
    ErrorSerializer,
    OrganisationRefSerializer,
    StrictSerializer,
    answers,
    request_actor,
)
from prepare.partnerships.models import Partnership


class PartnershipAccessSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    code = serializers.CharField()
    coordinates = serializers.BooleanField()
    read_categories = serializers.ListField(child=serializers.ChoiceField(Category.choices))
    write_categories = serializers.ListField(child=serializers.ChoiceField(Category.choices))


class OrganisationSerializer(OrganisationRefSerializer):
    type = serializers.ChoiceField(choices=OrganisationType.choices)


class MeSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    name = serializers.CharField(allow_blank=True)
    role = serializers.ChoiceField(choices=Role.choices)
    organisation = OrganisationSerializer(allow_null=True)
    partnerships = PartnershipAccessSerializer(many=True)


# --- The caller --------------------------------------------------------------------


class MeView(ApiViewSet):
    @extend_schema(
        tags=["me"],
        summary="Who you are",
        description="Your account, organisation, role and, per partnership, the categories "
        "you may read and write. No case data.",
        responses={200: MeSerializer, 401: R401},
    )
    def retrieve(self, request: Request) -> Response:
        user = request_actor(request)
        organisation = None
        if user.organisation_id:
            organisation = (
                Organisation.objects.filter(pk=user.organisation_id)
                .values("id", "name", "type")
                .first()
            )
        partnerships = [
            {
                **row,
                "coordinates": coordinates(user, row["id"]),
                "read_categories": sorted(categories_of(user, row["id"])),
                "write_categories": sorted(categories_of(user, row["id"], Action.WRITE)),
            }
            for row in Partnership.objects.filter(pk__in=member_partnership_ids(user))
            .order_by("name")
            .values("id", "name", "code")
        ]
        data = {
            "id": user.pk,
            "username": user.get_username(),
            "name": user.get_full_name(),
            "role": user.role,
            "organisation": organisation,
            "partnerships": partnerships,
        }
        return Response(MeSerializer(data).data)


# --- Ending another user's sessions (administrators) ----------------------------------


class SessionsEndBodySerializer(StrictSerializer):
    """Nothing to send: an empty object (or no body)."""


class SessionsEndedSerializer(serializers.Serializer):
    sessions_ended = serializers.IntegerField(help_text=_("How many sessions were signed out."))
    tokens_revoked = serializers.IntegerField(help_text=_("How many API tokens were revoked."))


USER_ID = OpenApiParameter("user_id", OpenApiTypes.INT, OpenApiParameter.PATH)
R404_USER = OpenApiResponse(
    ErrorSerializer,
    description="No such user, or you are not an administrator (the API does not say which). "
    "Your own sessions are ended on your sessions page.",
)


class UserSessionsView(ApiViewSet):
    @extend_schema(
        tags=["me"],
        summary="Sign a user out everywhere",
        operation_id="v1_user_sessions_end",
        description="For administrators: ends every session of the user and revokes every API "
        "token of theirs (a lost device, a departure, a suspected takeover), and says how many. "
        "Their next request, in a browser or with a token, is refused. Logged.",
        parameters=[USER_ID],
        request=EMPTY_BODY,
        responses=answers({200: SessionsEndedSerializer, 404: R404_USER}, 400, 401, 403),
    )
    def end(self, request: Request, user_id: int) -> Response:
        SessionsEndBodySerializer(data=request.data).is_valid(raise_exception=True)
        ended = sessions_end_for(actor=request_actor(request), user_id=user_id)
        return Response(
            SessionsEndedSerializer(
                {"sessions_ended": ended.sessions, "tokens_revoked": ended.tokens}
            ).data
        )


urlpatterns = [
    path("v1/me/", MeView.as_view({"get": "retrieve"}), name="v1_me"),
    *staff_api.urlpatterns,
    path(
        "v1/users/<int:user_id>/sessions/end/",
        UserSessionsView.as_view({"post": "end"}),
        name="v1_user_sessions_end",
    ),
]
