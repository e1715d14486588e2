"""REST API v1 for cases, their team and notes, on the same policy and audit as
the pages. Output serializers render plain rows from ``.values()``; input
serializers are strict (a field they do not declare is refused)."""

from __future__ import annotations

from typing import Any

from django.urls import path
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from prepare.access.categories import Category
from prepare.accounts.models import Organisation, User
from prepare.api import schema as _schema  # noqa: F401  (registers the auth extensions)
from prepare.api.base import (
    CASE_ID,
    ETAG,
    IF_MATCH,
    MAX_ID,
    R404,
    R404_PAGE,
    ApiViewSet,
    ErrorSerializer,
    OrganisationRefSerializer,
    QueryParamsSerializer,
    StrictSerializer,
    UserRefSerializer,
    answers,
    etag_header,
    expected_version,
    page_number,
    request_actor,
    stale_version_answer,
)
from prepare.api.exceptions import WriteNotAllowed
from prepare.api.pagination import CappedPagination
from prepare.cases import selectors as cases_selectors
from prepare.cases import services
from prepare.cases.models import CaseStatus, DataSubjectCategory, NoteKind


class CaseListQuerySerializer(QueryParamsSerializer):
    status = serializers.ChoiceField(
        choices=CaseStatus.choices, required=False, help_text=_("Only cases in this status.")
    )
    partnership = serializers.IntegerField(
        min_value=1,
        max_value=MAX_ID,
        required=False,
        help_text=_("Only cases of this partnership (its id)."),
    )
    sort = serializers.ChoiceField(
        choices=[
            ("activity", _("Last activity, newest first")),
            ("reference", _("Reference")),
            ("release", _("Expected release, soonest first (only cases that have one)")),
        ],
        required=False,
        help_text=_("The order of the cases; last activity by default."),
    )
    release = serializers.ChoiceField(
        choices=[(30, "30"), (90, "90"), (180, "180")],
        required=False,
        help_text=_("Only cases expected to be released within this many days from today."),
    )
    overdue = serializers.BooleanField(
        required=False, help_text=_("Only cases with overdue checklist items you may read.")
    )
    signals = serializers.BooleanField(
        required=False, help_text=_("Only cases with open signals you may read.")
    )


class NoteListQuerySerializer(QueryParamsSerializer):
    category = serializers.ChoiceField(
        choices=Category.choices, required=False, help_text=_("Only notes of this category.")
    )


class TeamMemberCreateSerializer(StrictSerializer):
    """A member organisation, or one of its practitioners, to add to the case team."""

    organisation = serializers.IntegerField(
        min_value=1,
        max_value=MAX_ID,
        help_text=_("Id of a current member organisation of the partnership."),
    )
    user = serializers.IntegerField(
        min_value=1,
        max_value=MAX_ID,
        required=False,
        allow_null=True,
        help_text=_("Id of a practitioner of that organisation; empty for the whole organisation."),
    )
    purpose = serializers.CharField(max_length=300, help_text=_("Why they need to know."))
    ends_on = serializers.DateField(
        required=False, allow_null=True, help_text=_("Last day of their access; empty: open.")
    )


class NoteCreateSerializer(StrictSerializer):
    """A new note: its category decides which organisations may read it."""

    category = serializers.ChoiceField(choices=Category.choices)
    kind = serializers.ChoiceField(choices=NoteKind.choices)
    text = serializers.CharField(max_length=10_000, trim_whitespace=False)
    reply_to = serializers.IntegerField(
        min_value=1,
        max_value=MAX_ID,
        required=False,
        help_text=_(
            "The id of a note of this case that this one answers (a note you may read). "
            "A note is edited only by its author's organisation: the others reply."
        ),
    )


class NoteUpdateSerializer(StrictSerializer):
    """A change of kind or text. The category cannot change: that would disclose the note
    to other organisations, so it is a new note."""

    # Documented (prepare.api.schema): a change names at least one of them.
    required_one_of = ("kind", "text")

    kind = serializers.ChoiceField(choices=NoteKind.choices)
    text = serializers.CharField(max_length=10_000, trim_whitespace=False)
    version = serializers.IntegerField(
        min_value=1,
        max_value=2**31 - 1,
        required=False,
        help_text=_(
            "The version this change is based on, if not sent as the If-Match header. "
            "Required one way or the other."
        ),
    )


# --- Output --------------------------------------------------------------------


class PersonNameSerializer(serializers.Serializer):
    given_name = serializers.CharField()
    family_name = serializers.CharField()


class PersonSerializer(PersonNameSerializer):
    birth_date = serializers.DateField(allow_null=True)
    identifier = serializers.CharField(allow_blank=True)
    data_subject_category = serializers.ChoiceField(choices=DataSubjectCategory.choices)


class CaseSummarySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    reference = serializers.CharField()
    status = serializers.ChoiceField(choices=CaseStatus.choices)
    partnership = serializers.IntegerField(source="partnership_id")
    opened_on = serializers.DateField()
    updated_at = serializers.DateTimeField()
    version = serializers.IntegerField()
    person = PersonNameSerializer(
        allow_null=True,
        help_text=_("Null unless the identity category is granted for this case."),
    )


class AbilitiesSerializer(serializers.Serializer):
    read_categories = serializers.ListField(child=serializers.ChoiceField(Category.choices))
    write_categories = serializers.ListField(child=serializers.ChoiceField(Category.choices))
    see_identity = serializers.BooleanField()
    edit_team = serializers.BooleanField()
    write = serializers.BooleanField()


class CaseDetailSerializer(CaseSummarySerializer):
    person = PersonSerializer(
        allow_null=True,
        help_text=_("Null unless the identity category is granted for this case."),
    )
    abilities = AbilitiesSerializer()


class TeamMemberSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    case = serializers.IntegerField(source="case_id")
    organisation = OrganisationRefSerializer()
    user = UserRefSerializer(allow_null=True)
    purpose = serializers.CharField()
    ends_on = serializers.DateField(allow_null=True)
    added_at = serializers.DateTimeField()


class NoteSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    case = serializers.IntegerField(source="case_id")
    category = serializers.ChoiceField(choices=Category.choices)
    kind = serializers.ChoiceField(choices=NoteKind.choices)
    text = serializers.CharField()
    created_at = serializers.DateTimeField()
    created_by = serializers.IntegerField(source="created_by_id")
    updated_at = serializers.DateTimeField()
    updated_by = serializers.IntegerField(source="updated_by_id")
    version = serializers.IntegerField(help_text=_('Also sent as the ETag header, "<version>".'))
    reply_to = serializers.IntegerField(
        source="reply_to_id",
        allow_null=True,
        help_text=_("The note this one answers, if it is a reply."),
    )


class NoteVersionSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    note = serializers.IntegerField()
    version = serializers.IntegerField(help_text=_("The number this version had."))
    category = serializers.ChoiceField(choices=Category.choices)
    kind = serializers.ChoiceField(choices=NoteKind.choices)
    text = serializers.CharField()
    written_by = serializers.IntegerField(help_text=_("Who wrote this version."))
    written_at = serializers.DateTimeField()
    replaced_by = serializers.IntegerField(help_text=_("Who replaced it with the next one."))
    replaced_at = serializers.DateTimeField()


# --- Cases -----------------------------------------------------------------------


class CaseViewSet(ApiViewSet):
    pagination_class = CappedPagination

    @extend_schema(
        tags=["cases"],
        summary="Your caseload",
        description="The cases you may reach, most recent activity first (or by reference, "
        "or by expected release), filtered as in the web caseload. The person's name is null "
        "unless identity is granted for the case. "
        "Audited as one list event naming the cases returned.",
        parameters=[CaseListQuerySerializer],
        responses=answers({200: CaseSummarySerializer(many=True), 404: R404_PAGE}, 400, 401),
    )
    def list(self, request: Request) -> Response:
        query = CaseListQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        paginator = self.pagination_class()
        rows = cases_selectors.caseload_page(
            actor=request_actor(request),
            paginate=lambda qs: paginator.paginate_queryset(qs, request, self),
            status=query.validated_data.get("status", ""),
            partnership_id=query.validated_data.get("partnership"),
            page=page_number(request),
            sort=query.validated_data.get("sort") or "activity",
            release_days=query.validated_data.get("release"),
            overdue=query.validated_data.get("overdue", False),
            signals=query.validated_data.get("signals", False),
        )
        return paginator.get_paginated_response(CaseSummarySerializer(rows, many=True).data)

    @extend_schema(
        tags=["cases"],
        summary="One case",
        description="The case, the person (only with identity granted) and what you may do "
        "on it. Audited as a view event.",
        parameters=[CASE_ID, ETAG],
        responses=answers({200: CaseDetailSerializer}, 401, 404),
    )
    def retrieve(self, request: Request, case_id: int) -> Response:
        row = cases_selectors.case_get(actor=request_actor(request), case_id=case_id)
        return Response(CaseDetailSerializer(row).data, headers=etag_header(row["version"]))


# --- Team ------------------------------------------------------------------------


class TeamViewSet(ApiViewSet):
    @extend_schema(
        tags=["team"],
        summary="The case team",
        description="The organisations and named practitioners on the case team. Audited.",
        parameters=[CASE_ID],
        responses=answers({200: TeamMemberSerializer(many=True)}, 401, 404),
    )
    def list(self, request: Request, case_id: int) -> Response:
        rows = cases_selectors.team_list(actor=request_actor(request), case_id=case_id)
        return Response(TeamMemberSerializer(rows, many=True).data)

    @extend_schema(
        tags=["team"],
        summary="Add to the case team",
        description="Adds a member organisation, or one of its practitioners, with a purpose "
        "and an optional end date. Coordinators and case managers who may write on the case. "
        "Logged as a disclosure naming the recipient.",
        parameters=[CASE_ID],
        request=TeamMemberCreateSerializer,
        responses=answers({201: TeamMemberSerializer}, 400, 401, 403, 404),
    )
    def create(self, request: Request, case_id: int) -> Response:
        actor = request_actor(request)
        case, abilities = cases_selectors.case_with_abilities(actor=actor, case_id=case_id)
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
        if cases_selectors.team_has(case=case, organisation=organisation, user=user):
            raise ValidationError({"non_field_errors": [_("They are already on the case team.")]})
        member = services.team_member_add(
            actor=actor,
            case_id=case.pk,
            organisation=organisation,
            user=user,
            purpose=data["purpose"],
            ends_on=data.get("ends_on"),
        )
        row = cases_selectors.team_member_row(member)
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
        responses=answers({204: None}, 401, 403, 404),
    )
    def destroy(self, request: Request, case_id: int, member_id: int) -> Response:
        actor = request_actor(request)
        cases_selectors.team_member_of_case(actor=actor, case_id=case_id, member_id=member_id)
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
        responses=answers(
            {
                200: NoteSerializer(many=True),
                404: OpenApiResponse(
                    ErrorSerializer, description=f"{R404.description} Or no such page."
                ),
            },
            400,
            401,
        ),
    )
    def list(self, request: Request, case_id: int) -> Response:
        query = NoteListQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        paginator = self.pagination_class()
        rows = cases_selectors.note_page(
            actor=request_actor(request),
            case_id=case_id,
            paginate=lambda qs: paginator.paginate_queryset(qs, request, self),
            category=query.validated_data.get("category", ""),
        )
        return paginator.get_paginated_response(NoteSerializer(rows, many=True).data)

    @extend_schema(
        tags=["notes"],
        summary="Write a note",
        description="A new note in a category the agreement lets you write, marked as fact "
        "or assessment; with reply_to, a reply to a note of the case you read (404 if you "
        "do not). Logged.",
        parameters=[CASE_ID, ETAG],
        request=NoteCreateSerializer,
        responses=answers({201: NoteSerializer}, 400, 401, 403, 404),
    )
    def create(self, request: Request, case_id: int) -> Response:
        actor = request_actor(request)
        case, abilities = cases_selectors.case_with_abilities(actor=actor, case_id=case_id)
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
            reply_to_id=data.get("reply_to"),
        )
        return Response(
            NoteSerializer(cases_selectors.note_row(note)).data,
            status=status.HTTP_201_CREATED,
            headers=etag_header(note.version),
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
        responses=answers({200: NoteSerializer}, 401, 404),
    )
    def retrieve(self, request: Request, case_id: int, note_id: int) -> Response:
        row = cases_selectors.note_get(
            actor=request_actor(request), case_id=case_id, note_id=note_id
        )
        return Response(NoteSerializer(row).data, headers=etag_header(row["version"]))

    def _update(self, request: Request, case_id: int, note_id: int, *, partial: bool) -> Response:
        actor = request_actor(request)
        cases_selectors.note_edit_check(actor=actor, case_id=case_id, note_id=note_id)
        payload = NoteUpdateSerializer(data=request.data, partial=partial)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        if "kind" not in data and "text" not in data:
            raise ValidationError({"non_field_errors": [_("Send the kind, the text or both.")]})
        version, from_header = expected_version(request, data.get("version"))
        with stale_version_answer(from_header):
            note = services.note_update(
                actor=actor,
                note_id=note_id,
                version=version,
                kind=data.get("kind"),
                text=data.get("text"),
                case_id=case_id,
            )
        return Response(
            NoteSerializer(cases_selectors.note_row(note)).data, headers=etag_header(note.version)
        )

    _update_doc: dict[str, Any] = {
        "tags": ["notes"],
        "parameters": [
            CASE_ID,
            OpenApiParameter("note_id", OpenApiTypes.INT, OpenApiParameter.PATH),
            IF_MATCH,
            ETAG,
        ],
        "request": NoteUpdateSerializer,
        "responses": answers({200: NoteSerializer}, 400, 401, 403, 404, 409, 412, 428),
    }

    @extend_schema(
        summary="Replace a note's kind and text",
        description="Optimistic locking: name the version you read (If-Match or version). "
        "A stale version is refused and nothing is overwritten. The category cannot change. "
        "Only users of the organisation of the note's author edit it (403 otherwise: reply "
        "instead). The version replaced is kept (see the note's versions).",
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


class NoteVersionViewSet(ApiViewSet):
    @extend_schema(
        tags=["notes"],
        summary="Earlier versions of a note",
        description="The note's rectification history, oldest first: each version an edit "
        "replaced, with who wrote it, who replaced it and when. 404 unless you may read the "
        "note; a version is listed only if you may read the category it had. Audited.",
        parameters=[
            CASE_ID,
            OpenApiParameter("note_id", OpenApiTypes.INT, OpenApiParameter.PATH),
        ],
        responses=answers({200: NoteVersionSerializer(many=True)}, 401, 404),
    )
    def list(self, request: Request, case_id: int, note_id: int) -> Response:
        history = cases_selectors.note_history(
            actor=request_actor(request), case_id=case_id, note_id=note_id, view="api.note_versions"
        )
        rows = cases_selectors.note_version_rows(history)
        return Response(NoteVersionSerializer(rows, many=True).data)


case_list = CaseViewSet.as_view({"get": "list"})
case_detail = CaseViewSet.as_view({"get": "retrieve"})
team = TeamViewSet.as_view({"get": "list", "post": "create"})
team_member = TeamViewSet.as_view({"delete": "destroy"})
notes = NoteViewSet.as_view({"get": "list", "post": "create"})
note = NoteViewSet.as_view({"get": "retrieve", "put": "update", "patch": "partial_update"})
note_versions = NoteVersionViewSet.as_view({"get": "list"})

urlpatterns = [
    path("v1/cases/", case_list, name="v1_cases"),
    path("v1/cases/<int:case_id>/", case_detail, name="v1_case"),
    path("v1/cases/<int:case_id>/team/", team, name="v1_case_team"),
    path("v1/cases/<int:case_id>/team/<int:member_id>/", team_member, name="v1_case_team_member"),
    path("v1/cases/<int:case_id>/notes/", notes, name="v1_case_notes"),
    path("v1/cases/<int:case_id>/notes/<int:note_id>/", note, name="v1_case_note"),
    path(
        "v1/cases/<int:case_id>/notes/<int:note_id>/versions/",
        note_versions,
        name="v1_case_note_versions",
    ),
]
