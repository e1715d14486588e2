"""REST API v1: cases, case team and notes, on the same policy and audit as the UI.

Views are thin: parse and validate, call a selector (audited read) or a
service (audited write), serialise. Invisible cases and records answer 404,
writes the agreement does not grant answer 403 (see ``exceptions``).
"""

from __future__ import annotations

import re
from typing import Any

from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status, viewsets
from rest_framework.exceptions import ValidationError
from rest_framework.parsers import JSONParser
from rest_framework.request import Request
from rest_framework.response import Response

from prepare.access.categories import Action
from prepare.access.policy import grants_for
from prepare.access.routes import RoutePolicy
from prepare.accounts.models import Organisation, User
from prepare.api import schema as _schema  # noqa: F401  (registers the auth extensions)
from prepare.api import selectors
from prepare.api.exceptions import PreconditionFailed, PreconditionRequired, WriteNotAllowed
from prepare.api.pagination import CappedPagination
from prepare.api.serializers import (
    CaseDetailSerializer,
    CaseListQuerySerializer,
    CaseSummarySerializer,
    ErrorSerializer,
    MeSerializer,
    NoteCreateSerializer,
    NoteListQuerySerializer,
    NoteSerializer,
    NoteUpdateSerializer,
    TeamMemberCreateSerializer,
    TeamMemberSerializer,
)
from prepare.cases import services
from prepare.locking import StaleVersion
from prepare.partnerships.models import Partnership

# --- Documentation of the shared answers ------------------------------------------

R400 = OpenApiResponse(
    {
        "type": "object",
        "additionalProperties": {"type": "array", "items": {"type": "string"}},
    },
    description="Invalid input: a list of messages per field (non_field_errors for the rest). "
    "Fields the operation does not accept are refused here too.",
)
R401 = OpenApiResponse(ErrorSerializer, description="No valid token or verified session.")
R403 = OpenApiResponse(
    ErrorSerializer,
    description="The case is visible but the agreement or your role does not allow this "
    "change (or, with a browser session, the CSRF token is missing). Nothing was saved.",
)
R404 = OpenApiResponse(
    ErrorSerializer,
    description="No such case or record, or not visible to you (the API does not say which).",
)
R404_PAGE = OpenApiResponse(ErrorSerializer, description="No such page.")
R409 = OpenApiResponse(
    ErrorSerializer,
    description="The version in the body is stale: someone saved in between. Nothing was "
    "overwritten; read the note again.",
)
R412 = OpenApiResponse(
    ErrorSerializer,
    description="The If-Match ETag is not the note's current one. Nothing was overwritten; "
    "read the note again.",
)
R428 = OpenApiResponse(
    ErrorSerializer,
    description="The change does not say which version it is based on: send If-Match "
    "(the ETag of the note) or a version field.",
)

CASE_ID = OpenApiParameter("case_id", OpenApiTypes.INT, OpenApiParameter.PATH)
ETAG = OpenApiParameter(
    "ETag",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    response=[200, 201],
    description='The version of the record, as "<version>".',
)
IF_MATCH = OpenApiParameter(
    "If-Match",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    description='The ETag of the note this change is based on, e.g. "3". '
    "Either this header or the version field is required.",
)

_STRONG_ETAG = re.compile(r'"([1-9][0-9]{0,8})"')


def _actor(request: Request) -> User:
    user = request.user
    assert isinstance(user, User)
    return user


def _etag(version: int) -> dict[str, str]:
    return {"ETag": f'"{version}"'}


def _page_number(request: Request) -> int:
    raw = request.query_params.get(CappedPagination.page_query_param, "1")
    return int(raw) if raw.isdigit() and len(raw) < 10 else 1


class ApiViewSet(viewsets.ViewSet):
    """What every API view shares: the route policy, JSON only, no OPTIONS metadata."""

    route_policy = RoutePolicy.API
    parser_classes = [JSONParser]
    metadata_class = None


# --- Cases -----------------------------------------------------------------------


class CaseViewSet(ApiViewSet):
    pagination_class = CappedPagination

    @extend_schema(
        tags=["cases"],
        summary="Your caseload",
        description="The cases you may reach, most recent activity first, as in the web "
        "caseload. The person's name is null unless identity is granted for the case. "
        "Audited as one list event naming the cases returned.",
        parameters=[CaseListQuerySerializer],
        responses={
            200: CaseSummarySerializer(many=True),
            400: R400,
            401: R401,
            404: R404_PAGE,
        },
    )
    def list(self, request: Request) -> Response:
        query = CaseListQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        paginator = self.pagination_class()
        rows = selectors.caseload_page(
            actor=_actor(request),
            paginate=lambda qs: paginator.paginate_queryset(qs, request, self),
            status=query.validated_data.get("status", ""),
            partnership_id=query.validated_data.get("partnership"),
            page=_page_number(request),
        )
        return paginator.get_paginated_response(CaseSummarySerializer(rows, many=True).data)

    @extend_schema(
        tags=["cases"],
        summary="One case",
        description="The case, the person (only with identity granted) and what you may do "
        "on it. Audited as a view event.",
        parameters=[CASE_ID, ETAG],
        responses={200: CaseDetailSerializer, 401: R401, 404: R404},
    )
    def retrieve(self, request: Request, case_id: int) -> Response:
        row = selectors.case_get(actor=_actor(request), case_id=case_id)
        return Response(CaseDetailSerializer(row).data, headers=_etag(row["version"]))


# --- Team ------------------------------------------------------------------------


class TeamViewSet(ApiViewSet):
    @extend_schema(
        tags=["team"],
        summary="The case team",
        description="The organisations and named practitioners on the case team. Audited.",
        parameters=[CASE_ID],
        responses={200: TeamMemberSerializer(many=True), 401: R401, 404: R404},
    )
    def list(self, request: Request, case_id: int) -> Response:
        rows = selectors.team_list(actor=_actor(request), case_id=case_id)
        return Response(TeamMemberSerializer(rows, many=True).data)

    @extend_schema(
        tags=["team"],
        summary="Add to the case team",
        description="Adds a member organisation, or one of its practitioners, with a purpose "
        "and an optional end date. Coordinators and case managers who may write on the case. "
        "Logged as a disclosure naming the recipient.",
        parameters=[CASE_ID],
        request=TeamMemberCreateSerializer,
        responses={
            201: TeamMemberSerializer,
            400: R400,
            401: R401,
            403: R403,
            404: R404,
        },
    )
    def create(self, request: Request, case_id: int) -> Response:
        actor = _actor(request)
        case, abilities = selectors.case_with_abilities(actor=actor, case_id=case_id)
        if not abilities.edit_team:
            raise WriteNotAllowed
        payload = TeamMemberCreateSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        organisation = Organisation.objects.filter(pk=data["organisation"]).first()
        if organisation is None:
            raise ValidationError(
                {"organisation": [_("This organisation is not a member of the partnership.")]}
            )
        user = None
        if data.get("user") is not None:
            user = User.objects.filter(
                pk=data["user"], organisation=organisation, is_active=True
            ).first()
            if user is None:
                raise ValidationError(
                    {"user": [_("The named practitioner must belong to the organisation.")]}
                )
        if selectors.team_has(case=case, organisation=organisation, user=user):
            raise ValidationError({"non_field_errors": [_("They are already on the case team.")]})
        member = services.team_member_add(
            actor=actor,
            case_id=case.pk,
            organisation=organisation,
            user=user,
            purpose=data["purpose"],
            ends_on=data.get("ends_on"),
        )
        row = selectors.team_member_row(member)
        return Response(TeamMemberSerializer(row).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        tags=["team"],
        summary="Remove from the case team",
        description="Ends the member's access to the case at once. Logged.",
        parameters=[
            CASE_ID,
            OpenApiParameter("member_id", OpenApiTypes.INT, OpenApiParameter.PATH),
        ],
        request=None,
        responses={204: None, 401: R401, 403: R403, 404: R404},
    )
    def destroy(self, request: Request, case_id: int, member_id: int) -> Response:
        actor = _actor(request)
        selectors.team_member_of_case(actor=actor, case_id=case_id, member_id=member_id)
        services.team_member_remove(actor=actor, member_id=member_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- Notes -----------------------------------------------------------------------


class NoteViewSet(ApiViewSet):
    pagination_class = CappedPagination

    @extend_schema(
        tags=["notes"],
        summary="Notes of a case",
        description="The notes in the categories you may read, newest first. Audited as one "
        "list event naming the notes and their categories.",
        parameters=[CASE_ID, NoteListQuerySerializer],
        responses={
            200: NoteSerializer(many=True),
            400: R400,
            401: R401,
            404: OpenApiResponse(
                ErrorSerializer, description=f"{R404.description} Or no such page."
            ),
        },
    )
    def list(self, request: Request, case_id: int) -> Response:
        query = NoteListQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        paginator = self.pagination_class()
        rows = selectors.note_page(
            actor=_actor(request),
            case_id=case_id,
            paginate=lambda qs: paginator.paginate_queryset(qs, request, self),
            category=query.validated_data.get("category", ""),
        )
        return paginator.get_paginated_response(NoteSerializer(rows, many=True).data)

    @extend_schema(
        tags=["notes"],
        summary="Write a note",
        description="A new note in a category the agreement lets you write, marked as fact "
        "or assessment. Logged.",
        parameters=[CASE_ID, ETAG],
        request=NoteCreateSerializer,
        responses={201: NoteSerializer, 400: R400, 401: R401, 403: R403, 404: R404},
    )
    def create(self, request: Request, case_id: int) -> Response:
        actor = _actor(request)
        case, abilities = selectors.case_with_abilities(actor=actor, case_id=case_id)
        if not abilities.write_categories:
            raise WriteNotAllowed
        payload = NoteCreateSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        note = services.note_create(
            actor=actor,
            case_id=case.pk,
            category=data["category"],
            kind=data["kind"],
            text=data["text"],
        )
        return Response(
            NoteSerializer(selectors.note_row(note)).data,
            status=status.HTTP_201_CREATED,
            headers=_etag(note.version),
        )

    @extend_schema(
        tags=["notes"],
        summary="One note",
        description="The note, if its category is one you may read. Its ETag is the version "
        "to send back with a change. Audited.",
        parameters=[
            CASE_ID,
            OpenApiParameter("note_id", OpenApiTypes.INT, OpenApiParameter.PATH),
            ETAG,
        ],
        responses={200: NoteSerializer, 401: R401, 404: R404},
    )
    def retrieve(self, request: Request, case_id: int, note_id: int) -> Response:
        row = selectors.note_get(actor=_actor(request), case_id=case_id, note_id=note_id)
        return Response(NoteSerializer(row).data, headers=_etag(row["version"]))

    def _update(self, request: Request, case_id: int, note_id: int, *, partial: bool) -> Response:
        actor = _actor(request)
        if not selectors.note_writable(actor=actor, case_id=case_id, note_id=note_id):
            raise WriteNotAllowed
        payload = NoteUpdateSerializer(data=request.data, partial=partial)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        if "kind" not in data and "text" not in data:
            raise ValidationError({"non_field_errors": [_("Send the kind, the text or both.")]})
        version, from_header = _expected_version(request, data.get("version"))
        try:
            note = services.note_update(
                actor=actor,
                note_id=note_id,
                version=version,
                kind=data.get("kind"),
                text=data.get("text"),
            )
        except StaleVersion as exc:
            if from_header:
                raise PreconditionFailed from exc
            raise
        return Response(NoteSerializer(selectors.note_row(note)).data, headers=_etag(note.version))

    _update_doc: dict[str, Any] = {
        "tags": ["notes"],
        "parameters": [
            CASE_ID,
            OpenApiParameter("note_id", OpenApiTypes.INT, OpenApiParameter.PATH),
            IF_MATCH,
            ETAG,
        ],
        "request": NoteUpdateSerializer,
        "responses": {
            200: NoteSerializer,
            400: R400,
            401: R401,
            403: R403,
            404: R404,
            409: R409,
            412: R412,
            428: R428,
        },
    }

    @extend_schema(
        summary="Replace a note's kind and text",
        description="Optimistic locking: name the version you read (If-Match or version). "
        "A stale version is refused and nothing is overwritten. The category cannot change.",
        **_update_doc,
    )
    def update(self, request: Request, case_id: int, note_id: int) -> Response:
        return self._update(request, case_id, note_id, partial=False)

    @extend_schema(
        summary="Change a note's kind or text",
        description="As PUT, but only the fields sent change.",
        **_update_doc,
    )
    def partial_update(self, request: Request, case_id: int, note_id: int) -> Response:
        return self._update(request, case_id, note_id, partial=True)


def _expected_version(request: Request, body_version: int | None) -> tuple[int, bool]:
    """The version a change is based on, and whether it came from If-Match."""
    header = request.headers.get("If-Match")
    if header is None or not header.strip():
        if body_version is None:
            raise PreconditionRequired
        return body_version, False
    header = header.strip()
    if header == "*":
        # "Any version" is exactly what optimistic locking must not accept.
        raise PreconditionRequired
    match = _STRONG_ETAG.fullmatch(header)
    if match is None:
        # Not one strong ETag of ours: it cannot match the note's current one.
        raise PreconditionFailed
    version = int(match.group(1))
    if body_version is not None and body_version != version:
        raise ValidationError(
            {"version": [_("The version in the body differs from the If-Match header.")]}
        )
    return version, True


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
        user = _actor(request)
        g = grants_for(user)
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
                "coordinates": g.coordinates(row["id"]),
                "read_categories": sorted(g.categories(row["id"])),
                "write_categories": sorted(g.categories(row["id"], Action.WRITE)),
            }
            for row in Partnership.objects.filter(pk__in=g.partnership_ids)
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
