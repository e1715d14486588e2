"""API of the administration: organisations, partnerships, their first
coordinators. For the installation's administrator only (403 for anyone
else); no case data."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, cast

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.urls import path
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from prepare.access.policy import require_administrator
from prepare.accounts.models import Organisation, Role, User
from prepare.administration import imports, selectors, services
from prepare.api.base import (
    ETAG,
    MAX_ID,
    R400,
    R401,
    ApiViewSet,
    ErrorSerializer,
    OrganisationRefSerializer,
    OrganisationTypeField,
    StrictSerializer,
    answers,
    etag_header,
    expected_version,
    request_actor,
    stale_version_answer,
)
from prepare.api.pagination import CappedPagination
from prepare.locking import MAX_VERSION
from prepare.partnerships.access_changes.kinds import kind_of

TAGS = ["administration"]
ORGANISATION_ID = OpenApiParameter("organisation_id", OpenApiTypes.INT, OpenApiParameter.PATH)
PARTNERSHIP_ID = OpenApiParameter("partnership_id", OpenApiTypes.INT, OpenApiParameter.PATH)
A403 = OpenApiResponse(
    ErrorSerializer,
    description="Only the installation's administrator may do this. Nothing was saved.",
)
A404_ORG = OpenApiResponse(ErrorSerializer, description="No such organisation.")
A404_PARTNERSHIP = OpenApiResponse(ErrorSerializer, description="No such partnership.")
ORG_IF_MATCH = OpenApiParameter(
    "If-Match",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    description='The ETag of the organisation this change is based on, e.g. "2" (its '
    "version). Either this header or the version field is required.",
)
PARTNERSHIP_IF_MATCH = OpenApiParameter(
    "If-Match",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    description='The ETag of the partnership this change is based on, e.g. "2" (its '
    "version). Either this header or the version field is required.",
)
LOCKED = {
    409: OpenApiResponse(
        ErrorSerializer,
        description="The version in the body is stale: someone changed it in between. "
        "Nothing was changed; read it again.",
    ),
    412: OpenApiResponse(
        ErrorSerializer,
        description="The If-Match ETag is not the current one. Nothing was changed; read it again.",
    ),
    428: OpenApiResponse(
        ErrorSerializer,
        description="The change does not say which version it is based on: send If-Match "
        "or version.",
    ),
}
LANGUAGE_CHOICES = [code for code, _name in settings.LANGUAGES]
ORGANISATION_QUERY = OpenApiParameter(
    "q", OpenApiTypes.STR, description="Part of the organisation's name or city."
)
PARTNERSHIP_QUERY = OpenApiParameter(
    "q", OpenApiTypes.STR, description="Part of the partnership's name or code."
)
R404_PAGE = OpenApiResponse(ErrorSerializer, description="No such page.")


def _query(request: Request) -> str:
    return str(request.query_params.get("q", ""))[: selectors.QUERY_MAX_LENGTH]


# --- Serializers ----------------------------------------------------------------------


class OrganisationAdminSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    type = OrganisationTypeField()
    country = serializers.CharField(allow_blank=True, help_text=_("ISO code, two letters."))
    city = serializers.CharField(allow_blank=True)
    languages = serializers.ListField(child=serializers.ChoiceField(LANGUAGE_CHOICES))
    is_active = serializers.BooleanField()
    version = serializers.IntegerField(help_text=_('Also sent as the ETag header, "<version>".'))


class OrganisationCreateSerializer(StrictSerializer):
    name = serializers.CharField(max_length=200)
    type = OrganisationTypeField()
    country = serializers.CharField(max_length=2, required=False, allow_blank=True)
    city = serializers.CharField(max_length=100, required=False, allow_blank=True)
    languages = serializers.ListField(
        child=serializers.ChoiceField(LANGUAGE_CHOICES), required=False, max_length=20
    )
    is_active = serializers.BooleanField(required=False, default=True)


class OrganisationPatchSerializer(StrictSerializer):
    """Only the fields sent change."""

    name = serializers.CharField(max_length=200, required=False)
    type = OrganisationTypeField(required=False)
    country = serializers.CharField(max_length=2, required=False, allow_blank=True)
    city = serializers.CharField(max_length=100, required=False, allow_blank=True)
    languages = serializers.ListField(
        child=serializers.ChoiceField(LANGUAGE_CHOICES), required=False, max_length=20
    )
    is_active = serializers.BooleanField(
        required=False,
        help_text=_(
            "false deactivates: the organisation's people are refused from their next "
            "request, and their API tokens are revoked."
        ),
    )
    version = serializers.IntegerField(
        required=False,
        min_value=1,
        max_value=MAX_VERSION,
        help_text=_("The version read, if If-Match is not sent."),
    )


class CoordinatorSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    name = serializers.CharField(allow_blank=True)


class PartnershipSummarySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    code = serializers.CharField()
    coordinating_organisation = OrganisationRefSerializer()
    timezone = serializers.CharField()
    member_count = serializers.IntegerField(help_text=_("Current member organisations."))
    has_coordinator = serializers.BooleanField()
    has_agreement = serializers.BooleanField(
        help_text=_("Whether an information-sharing agreement is in force today.")
    )


class PartnershipAdminSerializer(PartnershipSummarySerializer):
    coordinators = CoordinatorSerializer(many=True)
    version = serializers.IntegerField(help_text=_("Send it back (or If-Match) to change."))


class PartnershipCreateSerializer(StrictSerializer):
    name = serializers.CharField(max_length=200)
    code = serializers.CharField(max_length=8, help_text=_("Prefix of case references."))
    coordinating_organisation = serializers.IntegerField(min_value=1, max_value=MAX_ID)
    timezone = serializers.CharField(max_length=64, help_text=_("e.g. Europe/Amsterdam"))


class PartnershipPatchSerializer(StrictSerializer):
    """Only the fields sent change; the code stays (case references carry it)."""

    name = serializers.CharField(max_length=200, required=False)
    timezone = serializers.CharField(
        max_length=64, required=False, help_text=_("e.g. Europe/Amsterdam")
    )
    version = serializers.IntegerField(
        required=False,
        min_value=1,
        max_value=MAX_VERSION,
        help_text=_("The version read, if If-Match is not sent."),
    )


class CoordinatorAppointSerializer(StrictSerializer):
    user = serializers.IntegerField(
        min_value=1,
        max_value=MAX_ID,
        help_text=_("An active account of the coordinating organisation."),
    )


class CoordinatorAccountSerializer(StrictSerializer):
    email = serializers.EmailField(
        max_length=150,
        help_text=_("Also the username. The link to set up the account is sent here."),
    )
    first_name = serializers.CharField(max_length=150, required=False, allow_blank=True)
    last_name = serializers.CharField(max_length=150, required=False, allow_blank=True)
    language = serializers.ChoiceField(
        choices=settings.LANGUAGES,
        required=False,
        default="",
        help_text=_("The language of the e-mail and, later, of the pages."),
    )


class AppointedAccountSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    name = serializers.CharField(allow_blank=True)
    role = serializers.ChoiceField(choices=Role.choices)
    organisation = serializers.IntegerField()
    has_password = serializers.BooleanField(
        help_text=_(
            "False for a new account: the person chooses one through the enrolment link "
            "e-mailed to them."
        )
    )


# --- Rows -------------------------------------------------------------------------------


def _organisation(org: Organisation) -> dict[str, Any]:
    return {
        "id": org.pk,
        "name": org.name,
        "type": org.type,
        "country": org.country,
        "city": org.city,
        "languages": list(org.languages),
        "is_active": org.is_active,
        "version": org.version,
    }


def _partnership(
    p: Any, *, has_agreement: bool, has_coordinator: bool, members: int
) -> dict[str, Any]:
    return {
        "id": p.pk,
        "name": p.name,
        "code": p.code,
        "coordinating_organisation": {
            "id": p.coordinating_organisation_id,
            "name": p.coordinating_organisation.name,
        },
        "timezone": p.timezone,
        "member_count": members,
        "has_coordinator": has_coordinator,
        "has_agreement": has_agreement,
    }


def _account(user: User) -> dict[str, Any]:
    return {
        "id": user.pk,
        "username": user.username,
        "name": user.get_full_name(),
        "role": user.role,
        "organisation": user.organisation_id,
        "has_password": user.has_usable_password(),
    }


def _partnership_detail(actor: User, partnership_id: int) -> dict[str, Any]:
    page = selectors.partnership(actor=actor, partnership_id=partnership_id)
    return {
        **_partnership(
            page.partnership,
            has_agreement=page.agreement is not None,
            has_coordinator=bool(page.coordinators),
            members=len(page.current_members),
        ),
        "coordinators": [
            {"id": u.pk, "username": u.username, "name": u.get_full_name()}
            for u in page.coordinators
        ],
        "version": page.partnership.version,
    }


# --- Views ------------------------------------------------------------------------------


class OrganisationsViewSet(ApiViewSet):
    pagination_class = CappedPagination

    @extend_schema(
        operation_id="v1_organisations_list",
        tags=TAGS,
        summary="Every organisation",
        description="The organisations of the installation, by name, a page at a time "
        "(q: part of the name or city). Administrator only.",
        parameters=[ORGANISATION_QUERY],
        responses={
            200: OrganisationAdminSerializer(many=True),
            400: R400,
            401: R401,
            403: A403,
            404: R404_PAGE,
        },
    )
    def list(self, request: Request) -> Response:
        rows = selectors.organisations(actor=request_actor(request), query=_query(request))
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(rows, request, self)
        return paginator.get_paginated_response(
            OrganisationAdminSerializer([_organisation(o) for o in page], many=True).data
        )

    @extend_schema(
        operation_id="v1_organisations_create",
        tags=TAGS,
        summary="Add an organisation",
        description="Logged. Administrator only.",
        request=OrganisationCreateSerializer,
        parameters=[ETAG],
        responses={201: OrganisationAdminSerializer, 400: R400, 401: R401, 403: A403},
    )
    def create(self, request: Request) -> Response:
        actor = request_actor(request)
        require_administrator(actor)  # 403 before any 400
        payload = OrganisationCreateSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        org = services.organisation_create(actor=actor, **payload.validated_data)
        return Response(
            OrganisationAdminSerializer(_organisation(org)).data,
            status=status.HTTP_201_CREATED,
            headers=etag_header(org.version),
        )


class OrganisationViewSet(ApiViewSet):
    @extend_schema(
        operation_id="v1_organisations_retrieve",
        tags=TAGS,
        summary="One organisation",
        parameters=[ORGANISATION_ID, ETAG],
        responses={200: OrganisationAdminSerializer, 401: R401, 403: A403, 404: A404_ORG},
    )
    def retrieve(self, request: Request, organisation_id: int) -> Response:
        org = selectors.organisation(actor=request_actor(request), organisation_id=organisation_id)
        return Response(
            OrganisationAdminSerializer(_organisation(org)).data, headers=etag_header(org.version)
        )

    @extend_schema(
        operation_id="v1_organisations_partial_update",
        tags=TAGS,
        summary="Change or deactivate an organisation",
        description="Only the fields sent change. Optimistic locking: name the version you "
        "read (If-Match or version). Deactivating (is_active false) refuses the "
        "organisation's people from their next request, pages and API alike, and revokes "
        "their API tokens. Logged (a permission change when the active flag changes).",
        parameters=[ORGANISATION_ID, ORG_IF_MATCH, ETAG],
        request=OrganisationPatchSerializer,
        responses={
            200: OrganisationAdminSerializer,
            400: R400,
            401: R401,
            403: A403,
            404: A404_ORG,
            **LOCKED,
        },
    )
    def partial_update(self, request: Request, organisation_id: int) -> Response:
        actor = request_actor(request)
        org = selectors.organisation(actor=actor, organisation_id=organisation_id)
        payload = OrganisationPatchSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        changes = dict(payload.validated_data)
        version, from_header = expected_version(request, changes.pop("version", None))
        with stale_version_answer(from_header):
            org, _changed = services.organisation_update(
                actor=actor, organisation_id=org.pk, version=version, changes=changes
            )
        return Response(
            OrganisationAdminSerializer(_organisation(org)).data, headers=etag_header(org.version)
        )


class PartnershipsViewSet(ApiViewSet):
    pagination_class = CappedPagination

    @extend_schema(
        operation_id="v1_partnerships_list",
        tags=TAGS,
        summary="Every partnership",
        description="The partnerships with what they still lack (coordinator, agreement, "
        "members), by name, a page at a time (q: part of the name or code). "
        "Administrator only; no case data.",
        parameters=[PARTNERSHIP_QUERY],
        responses={
            200: PartnershipSummarySerializer(many=True),
            400: R400,
            401: R401,
            403: A403,
            404: R404_PAGE,
        },
    )
    def list(self, request: Request) -> Response:
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(
            selectors.partnerships(actor=request_actor(request), query=_query(request)),
            request,
            self,
        )
        # The rows carry the selector's annotations (has_agreement, ...).
        rows = [
            _partnership(
                p,
                has_agreement=p.has_agreement,
                has_coordinator=p.has_coordinator,
                members=p.member_count,
            )
            for p in cast(Iterable[Any], page)
        ]
        return paginator.get_paginated_response(PartnershipSummarySerializer(rows, many=True).data)

    @extend_schema(
        operation_id="v1_partnerships_create",
        tags=TAGS,
        summary="Create a partnership",
        description="Led by an active coordinating organisation, which is its first member "
        "from today. Appoint its coordinator next. Logged.",
        request=PartnershipCreateSerializer,
        responses={201: PartnershipAdminSerializer, 400: R400, 401: R401, 403: A403},
    )
    def create(self, request: Request) -> Response:
        actor = request_actor(request)
        require_administrator(actor)  # 403 before any 400
        payload = PartnershipCreateSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        partnership = services.partnership_create(
            actor=actor,
            name=data["name"],
            code=data["code"],
            coordinating_organisation_id=data["coordinating_organisation"],
            timezone_name=data["timezone"],
        )
        return Response(
            PartnershipAdminSerializer(_partnership_detail(actor, partnership.pk)).data,
            status=status.HTTP_201_CREATED,
        )


class PartnershipViewSet(ApiViewSet):
    @extend_schema(
        operation_id="v1_partnerships_retrieve",
        tags=TAGS,
        summary="One partnership, for the administrator",
        parameters=[PARTNERSHIP_ID, ETAG],
        responses={200: PartnershipAdminSerializer, 401: R401, 403: A403, 404: A404_PARTNERSHIP},
    )
    def retrieve(self, request: Request, partnership_id: int) -> Response:
        data = _partnership_detail(request_actor(request), partnership_id)
        return Response(PartnershipAdminSerializer(data).data, headers=etag_header(data["version"]))

    @extend_schema(
        operation_id="v1_partnerships_partial_update",
        tags=TAGS,
        summary="Rename a partnership or change its time zone",
        description="Only the fields sent change; the code cannot (case references carry "
        "it). Optimistic locking: name the version you read (If-Match or version). Logged.",
        parameters=[PARTNERSHIP_ID, PARTNERSHIP_IF_MATCH, ETAG],
        request=PartnershipPatchSerializer,
        responses={
            200: PartnershipAdminSerializer,
            400: R400,
            401: R401,
            403: A403,
            404: A404_PARTNERSHIP,
            **LOCKED,
        },
    )
    def partial_update(self, request: Request, partnership_id: int) -> Response:
        actor = request_actor(request)
        require_administrator(actor)  # 403 before any 400
        found = selectors.partnership_by_id(partnership_id)
        payload = PartnershipPatchSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        changes = dict(payload.validated_data)
        version, from_header = expected_version(request, changes.pop("version", None))
        with stale_version_answer(from_header):
            services.partnership_update(
                actor=actor, partnership_id=found.pk, version=version, changes=changes
            )
        data = _partnership_detail(actor, found.pk)
        return Response(PartnershipAdminSerializer(data).data, headers=etag_header(data["version"]))

    @extend_schema(
        operation_id="v1_partnership_coordinators_create",
        tags=TAGS,
        summary="Appoint a coordinator from an existing account",
        description="An active account of the coordinating organisation becomes its "
        "coordinator. Logged as a permission change.",
        parameters=[PARTNERSHIP_ID],
        request=CoordinatorAppointSerializer,
        responses={
            201: AppointedAccountSerializer,
            400: R400,
            401: R401,
            403: A403,
            404: A404_PARTNERSHIP,
        },
    )
    def appoint(self, request: Request, partnership_id: int) -> Response:
        actor = request_actor(request)
        require_administrator(actor)  # 403, then 404, before any 400
        selectors.partnership_by_id(partnership_id)
        payload = CoordinatorAppointSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        user = services.coordinator_appoint(
            actor=actor, partnership_id=partnership_id, user_id=payload.validated_data["user"]
        )
        return Response(
            AppointedAccountSerializer(_account(user)).data, status=status.HTTP_201_CREATED
        )

    @extend_schema(
        operation_id="v1_partnership_coordinator_accounts_create",
        tags=TAGS,
        summary="Create the coordinator's account",
        description="A new account of the coordinating organisation with the coordinator's "
        "role, made as a staff invitation makes one: the e-mail address is also the "
        "username. The account stays inactive until the person follows the one-time "
        "enrolment link e-mailed to them, where they choose a password and set up their "
        "authenticator app. An address that already has an account is refused (400). "
        "Logged as a permission change.",
        parameters=[PARTNERSHIP_ID],
        request=CoordinatorAccountSerializer,
        responses={
            201: AppointedAccountSerializer,
            400: R400,
            401: R401,
            403: A403,
            404: A404_PARTNERSHIP,
        },
    )
    def create_account(self, request: Request, partnership_id: int) -> Response:
        actor = request_actor(request)
        require_administrator(actor)  # 403, then 404, before any 400
        selectors.partnership_by_id(partnership_id)
        payload = CoordinatorAccountSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        user = services.coordinator_account_create(
            actor=actor, partnership_id=partnership_id, **payload.validated_data
        )
        return Response(
            AppointedAccountSerializer(_account(user)).data, status=status.HTTP_201_CREATED
        )


# --- The bulk import -------------------------------------------------------------------


class ImportUploadSerializer(StrictSerializer):
    file = serializers.ListField(
        child=serializers.FileField(),
        min_length=1,
        max_length=imports.MAX_FILES,
        help_text=_(
            "One or two files: an XLSX workbook with a sheet “organisations” and/or a sheet "
            "“accounts”, or CSV files (UTF-8, “,” or “;”) whose header row says which."
        ),
    )


class ImportErrorSerializer(serializers.Serializer):
    sheet = serializers.ChoiceField(choices=[imports.ORGANISATIONS, imports.ACCOUNTS])
    file = serializers.CharField(help_text=_("The file's name, and the XLSX sheet's."))
    row = serializers.IntegerField(help_text=_("As the spreadsheet numbers it: the header is 1."))
    column = serializers.CharField()
    message = serializers.CharField()


class ImportOrganisationRowSerializer(serializers.Serializer):
    row = serializers.IntegerField()
    name = serializers.CharField()
    type = serializers.CharField()
    country = serializers.CharField(allow_blank=True)
    city = serializers.CharField(allow_blank=True)
    languages = serializers.ListField(child=serializers.CharField())
    exists = serializers.BooleanField(help_text=_("There already, as written: skipped."))


class ImportAccountRowSerializer(serializers.Serializer):
    row = serializers.IntegerField()
    email = serializers.CharField()
    first_name = serializers.CharField(allow_blank=True)
    last_name = serializers.CharField(allow_blank=True)
    organisation = serializers.CharField()
    role = serializers.CharField()
    language = serializers.CharField(allow_blank=True)
    manages_accounts = serializers.BooleanField()
    exists = serializers.BooleanField(help_text=_("There already, as written: skipped."))


class ImportCountsSerializer(serializers.Serializer):
    organisations = serializers.IntegerField(help_text=_("To create."))
    accounts = serializers.IntegerField(help_text=_("To invite."))
    skipped = serializers.IntegerField(help_text=_("Rows there already, as written."))


class ImportPreviewSerializer(serializers.Serializer):
    counts = ImportCountsSerializer()
    organisations = ImportOrganisationRowSerializer(many=True)
    accounts = ImportAccountRowSerializer(many=True)
    row_errors = ImportErrorSerializer(
        many=True, help_text=_("Each row's errors; with any, nothing can be proposed.")
    )
    preview = serializers.CharField(
        allow_blank=True,
        help_text=_(
            "Send it to propose the import (valid for a day, for you only). Empty when a "
            "row has an error or when everything is there already."
        ),
    )


class ImportProposeSerializer(StrictSerializer):
    preview = serializers.CharField(max_length=2_000_000)
    code = serializers.CharField(max_length=12, allow_blank=True)


class ImportProposedSerializer(serializers.Serializer):
    id = serializers.IntegerField(help_text=_("The change of access: approve it there."))
    kind = serializers.CharField()
    status = serializers.CharField()
    summary = serializers.CharField()


def _import_preview(preview: imports.ImportPreview) -> dict[str, Any]:
    def rows(items: list[imports.PlannedRow]) -> list[dict[str, Any]]:
        return [{**item.values, "exists": item.exists} for item in items]

    return {
        "counts": preview.plan.counts(),
        "organisations": rows(preview.plan.organisations),
        "accounts": rows(preview.plan.accounts),
        "row_errors": [
            {
                "sheet": e.sheet,
                "file": e.source,
                "row": e.row,
                "column": e.column,
                "message": e.message,
            }
            for e in preview.errors
        ],
        "preview": preview.token,
    }


class ImportViewSet(ApiViewSet):
    parser_classes = [MultiPartParser]

    @extend_schema(
        operation_id="v1_imports_preview",
        tags=TAGS,
        summary="Preview an import of organisations and accounts",
        description="Reads the files and answers what the import would create, what is "
        "there already exactly as written (skipped: importing twice adds nothing) and each "
        "row's errors with its row and column. Writes nothing. A file that cannot be read "
        "(too large, too many rows, not UTF-8 CSV or XLSX) is refused (400). Administrator "
        "only. See docs/administration/import.md.",
        request={"multipart/form-data": ImportUploadSerializer},
        responses=answers({200: ImportPreviewSerializer, 403: A403}, 400, 401),
    )
    def preview(self, request: Request) -> Response:
        actor = request_actor(request)
        require_administrator(actor)  # 403 before any 400
        payload = ImportUploadSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        preview = imports.import_preview(actor=actor, files=payload.validated_data["file"])
        return Response(ImportPreviewSerializer(_import_preview(preview)).data)


class ImportProposeViewSet(ApiViewSet):
    @extend_schema(
        operation_id="v1_imports_propose",
        tags=TAGS,
        summary="Propose a previewed import",
        description="With the preview's token and your current one-time code. The import "
        "waits for a second approver (another administrator or a data-protection officer), "
        "who approves it through the access-change operations; nothing is created before. "
        "Refused (400) if a row now has an error or there is nothing to create. Logged.",
        request=ImportProposeSerializer,
        responses=answers(
            {
                201: ImportProposedSerializer,
                403: A403,
                422: OpenApiResponse(
                    ErrorSerializer,
                    description="The one-time code is wrong, missing or was used already "
                    "(logged). Nothing was proposed.",
                ),
            },
            400,
            401,
        ),
    )
    def create(self, request: Request) -> Response:
        actor = request_actor(request)
        require_administrator(actor)
        payload = ImportProposeSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        try:
            change = imports.import_propose(
                actor=actor,
                token=payload.validated_data["preview"],
                code=payload.validated_data["code"],
            )
        except DjangoValidationError as exc:
            if "code" not in getattr(exc, "error_dict", {}):
                raise
            # Answered, not raised: the refusal's event and the throttle count stay.
            return Response(dict(exc.message_dict), status=422)
        data = {
            "id": change.pk,
            "kind": change.kind,
            "status": change.status,
            "summary": kind_of(change).summary(change.payload),
        }
        return Response(ImportProposedSerializer(data).data, status=status.HTTP_201_CREATED)


urlpatterns = [
    path("v1/imports/", ImportProposeViewSet.as_view({"post": "create"}), name="v1_imports"),
    path(
        "v1/imports/preview/",
        ImportViewSet.as_view({"post": "preview"}),
        name="v1_imports_preview",
    ),
    path(
        "v1/organisations/",
        OrganisationsViewSet.as_view({"get": "list", "post": "create"}),
        name="v1_organisations",
    ),
    path(
        "v1/organisations/<int:organisation_id>/",
        OrganisationViewSet.as_view({"get": "retrieve", "patch": "partial_update"}),
        name="v1_organisation",
    ),
    path(
        "v1/partnerships/",
        PartnershipsViewSet.as_view({"get": "list", "post": "create"}),
        name="v1_partnerships",
    ),
    path(
        "v1/partnerships/<int:partnership_id>/",
        PartnershipViewSet.as_view({"get": "retrieve", "patch": "partial_update"}),
        name="v1_partnership",
    ),
    path(
        "v1/partnerships/<int:partnership_id>/coordinators/",
        PartnershipViewSet.as_view({"post": "appoint"}),
        name="v1_partnership_coordinators",
    ),
    path(
        "v1/partnerships/<int:partnership_id>/coordinator-accounts/",
        PartnershipViewSet.as_view({"post": "create_account"}),
        name="v1_partnership_coordinator_accounts",
    ),
]
