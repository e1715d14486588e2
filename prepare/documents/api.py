"""Documents through the API: the case's list (paginated), upload (multipart),
download (the file, as an attachment), a new file (multipart, If-Match; the
earlier one kept), the earlier files and their downloads, delete (If-Match). Same policy and
audit as the pages: a document of a category the caller may not read answers
404, exactly like one that does not exist."""

from __future__ import annotations

from typing import Any

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
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from prepare.access.categories import Category
from prepare.api.base import (
    CASE_ID,
    ETAG,
    R401,
    R403,
    R404,
    R409,
    R412,
    R428,
    ApiViewSet,
    ErrorSerializer,
    StrictSerializer,
    answers,
    etag_header,
    expected_version,
    request_actor,
    stale_version_answer,
)
from prepare.api.exceptions import WriteNotAllowed
from prepare.api.pagination import CappedPagination
from prepare.cases import selectors as cases_selectors
from prepare.documents import selectors, services
from prepare.documents.models import DESCRIPTION_MAX_LENGTH, TITLE_MAX_LENGTH, FileType
from prepare.documents.uploads import upload_refused
from prepare.documents.views import file_response

RECORD_KINDS = ("note", "contact", "condition", "signal")


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "too_large"

    def __init__(self) -> None:
        super().__init__(" ".join(services.too_large_error().messages))


@extend_schema_field(
    {"type": "string", "enum": list(RECORD_KINDS)}, component_name="DocumentRecordKindEnum"
)
class RecordKindField(serializers.ChoiceField):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(choices=[(k, k) for k in RECORD_KINDS], **kwargs)


@extend_schema_field(
    {"type": "string", "enum": list(FileType.values)}, component_name="DocumentFileTypeEnum"
)
class FileTypeField(serializers.ChoiceField):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(choices=FileType.choices, **kwargs)


class DocumentUploadSerializer(StrictSerializer):
    """A file for the case, or for one record of it, in a category you may write."""

    category = serializers.ChoiceField(
        choices=Category.choices,
        help_text=_("Decides who may see the document; a record's category if about one."),
    )
    title = serializers.CharField(max_length=TITLE_MAX_LENGTH)
    description = serializers.CharField(
        max_length=DESCRIPTION_MAX_LENGTH, required=False, allow_blank=True
    )
    record_kind = RecordKindField(required=False, help_text=_("What the document is about."))
    record_id = serializers.IntegerField(min_value=1, max_value=2**63 - 1, required=False)
    file = serializers.FileField(
        allow_empty_file=False,
        help_text=_(
            "PDF, Word (DOCX), OpenDocument text (ODT), PNG, JPEG or plain text, found from "
            "the content (not the name); at most the installation's limit (20 MB by "
            "default). Metadata is removed; documents with macros or a password are refused."
        ),
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if ("record_kind" in attrs) != ("record_id" in attrs):
            raise serializers.ValidationError(
                {"record_id": [_("Send record_kind and record_id together.")]}
            )
        return attrs


class DocumentFileSerializer(StrictSerializer):
    """A new file for a document; the earlier one is kept as an earlier file."""

    file = serializers.FileField(
        allow_empty_file=False,
        help_text=_("Checked and stripped as an attached file is."),
    )


class DocumentVersionSerializer(serializers.Serializer):
    """An earlier file of a document: who attached it, who replaced it."""

    id = serializers.IntegerField()
    number = serializers.IntegerField(help_text=_("1 for the document's first file, and so on."))
    filename = serializers.CharField()
    content_type = FileTypeField()
    size = serializers.IntegerField(help_text=_("In bytes, after the metadata was removed."))
    sha256 = serializers.CharField()
    attached_at = serializers.DateTimeField()
    attached_by = serializers.IntegerField(source="attached_by_id")
    replaced_at = serializers.DateTimeField()
    replaced_by = serializers.IntegerField(source="replaced_by_id")


class DocumentRecordSerializer(serializers.Serializer):
    kind = RecordKindField()
    id = serializers.IntegerField()


class DocumentSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    case = serializers.IntegerField(source="case_id")
    category = serializers.ChoiceField(choices=Category.choices)
    title = serializers.CharField()
    description = serializers.CharField(allow_blank=True)
    record = DocumentRecordSerializer(allow_null=True)
    organisation = serializers.IntegerField(
        source="organisation_id", help_text=_("The organisation that attached it.")
    )
    filename = serializers.CharField()
    content_type = FileTypeField()
    size = serializers.IntegerField(help_text=_("In bytes, after the metadata was removed."))
    sha256 = serializers.CharField()
    created_at = serializers.DateTimeField()
    created_by = serializers.IntegerField(source="created_by_id")
    updated_at = serializers.DateTimeField()
    updated_by = serializers.IntegerField(source="updated_by_id")
    version = serializers.IntegerField(help_text=_('Also sent as the ETag header, "<version>".'))


DOCUMENT_ID = OpenApiParameter("document_id", OpenApiTypes.INT, OpenApiParameter.PATH)
VERSION_ID = OpenApiParameter("version_id", OpenApiTypes.INT, OpenApiParameter.PATH)
IF_MATCH_DOCUMENT = OpenApiParameter(
    "If-Match",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    description='The ETag of the document this change is based on, e.g. "3". Required.',
)
R404_LIST = OpenApiResponse(ErrorSerializer, description=f"{R404.description} Or no such page.")
R413 = OpenApiResponse(
    ErrorSerializer, description="The file is larger than the installation's limit."
)
FILE_ANSWERS = {(200, media): OpenApiTypes.BINARY for media in FileType.values}


class DocumentViewSet(ApiViewSet):
    pagination_class = CappedPagination
    parser_classes = [MultiPartParser]

    @extend_schema(
        tags=["documents"],
        summary="Documents of a case",
        description="The documents in the categories you may read, most recent first. "
        "Audited as one list event naming them.",
        parameters=[CASE_ID],
        responses={200: DocumentSerializer(many=True), 401: R401, 404: R404_LIST},
    )
    def list(self, request: Request, case_id: int) -> Response:
        paginator = CappedPagination()
        rows = selectors.document_page(
            actor=request_actor(request),
            case_id=case_id,
            paginate=lambda qs: paginator.paginate_queryset(qs, request, self),
        )
        return paginator.get_paginated_response(DocumentSerializer(rows, many=True).data)

    @extend_schema(
        tags=["documents"],
        summary="Attach a document",
        description="A multipart upload. The type is found from the content: a file that "
        "is not a PDF, a Word (DOCX) or OpenDocument text (ODT) document, a PNG or JPEG "
        "image, or UTF-8 plain text is refused (400), and so is a web page, a document with "
        "macros or scripts, a password-protected one, and an archive that is unsafe to "
        "unpack. Metadata (PDF information and XMP, EXIF and GPS, document properties and "
        "thumbnails) is removed before the file is stored. Logged.",
        parameters=[CASE_ID, ETAG],
        request={"multipart/form-data": DocumentUploadSerializer},
        responses=answers({201: DocumentSerializer, 413: R413}, 400, 401, 403, 404),
    )
    def create(self, request: Request, case_id: int) -> Response:
        actor = request_actor(request)
        case, abilities = cases_selectors.case_with_abilities(actor=actor, case_id=case_id)
        if not abilities.write_categories:
            raise WriteNotAllowed
        data = request.data
        if upload_refused(request._request):
            raise PayloadTooLarge
        payload = DocumentUploadSerializer(data=data)
        payload.is_valid(raise_exception=True)
        fields = payload.validated_data
        if fields["category"] not in abilities.write_categories:
            raise WriteNotAllowed
        upload = fields["file"]
        document = services.document_upload(
            actor=actor,
            case_id=case.pk,
            category=fields["category"],
            title=fields["title"],
            description=fields.get("description", ""),
            upload=upload,
            filename=upload.name or "",
            record_kind=fields.get("record_kind", ""),
            record_id=fields.get("record_id"),
        )
        return Response(
            DocumentSerializer(selectors.document_row(document)).data,
            status=status.HTTP_201_CREATED,
            headers=etag_header(document.version),
        )

    @extend_schema(
        tags=["documents"],
        summary="Download a document",
        description="The file, as an attachment (Content-Disposition), never cached. "
        "Audited as an export naming the case, the document and its category.",
        parameters=[DOCUMENT_ID],
        responses={**FILE_ANSWERS, 401: R401, 404: R404},
    )
    def download(self, request: Request, document_id: int) -> Any:
        download = selectors.document_download(
            actor=request_actor(request), document_id=document_id, via="api"
        )
        return file_response(download)

    @extend_schema(
        tags=["documents"],
        summary="Replace a document's file",
        description="A multipart upload, checked and stripped as an attached file is, "
        "by the organisation that attached the document or the coordinator of the case's "
        "partnership, with the category's write grant. Name the version you read "
        "(If-Match); the earlier file is kept as one of the document's earlier files. "
        "Logged.",
        operation_id="document_file_replace",
        parameters=[DOCUMENT_ID, IF_MATCH_DOCUMENT],
        request={"multipart/form-data": DocumentFileSerializer},
        responses=answers({200: DocumentSerializer, 413: R413}, 400, 401, 403, 404, 409, 412, 428),
    )
    def replace(self, request: Request, document_id: int) -> Response:
        actor = request_actor(request)
        if not selectors.document_changeable(actor=actor, document_id=document_id):
            raise WriteNotAllowed
        data = request.data
        if upload_refused(request._request):
            raise PayloadTooLarge
        version, from_header = expected_version(request, None)
        payload = DocumentFileSerializer(data=data)
        payload.is_valid(raise_exception=True)
        upload = payload.validated_data["file"]
        with stale_version_answer(from_header):
            document = services.document_replace(
                actor=actor,
                document_id=document_id,
                version=version,
                upload=upload,
                filename=upload.name or "",
            )
        return Response(
            DocumentSerializer(selectors.document_row(document)).data,
            headers=etag_header(document.version),
        )

    @extend_schema(
        tags=["documents"],
        summary="Earlier files of a document",
        description="The files a new file replaced, newest first, if you may read the "
        "document. Audited as one list event naming them.",
        operation_id="document_versions",
        parameters=[DOCUMENT_ID],
        responses={200: DocumentVersionSerializer(many=True), 401: R401, 404: R404_LIST},
    )
    def versions(self, request: Request, document_id: int) -> Response:
        paginator = CappedPagination()
        rows = selectors.document_versions_page(
            actor=request_actor(request),
            document_id=document_id,
            paginate=lambda qs: paginator.paginate_queryset(qs, request, self),
        )
        return paginator.get_paginated_response(DocumentVersionSerializer(rows, many=True).data)

    @extend_schema(
        tags=["documents"],
        summary="Download an earlier file of a document",
        description="As the current file: an attachment, never cached, only for those "
        "who may read the document. Audited as an export.",
        operation_id="document_version_download",
        parameters=[DOCUMENT_ID, VERSION_ID],
        responses={**FILE_ANSWERS, 401: R401, 404: R404},
    )
    def version_download(self, request: Request, document_id: int, version_id: int) -> Any:
        download = selectors.document_version_download(
            actor=request_actor(request), document_id=document_id, version_id=version_id, via="api"
        )
        return file_response(download)

    @extend_schema(
        tags=["documents"],
        summary="Delete a document",
        description="By the organisation that attached it, or the coordinator of the "
        "case's partnership, with the category's write grant. Name the version you read "
        "(If-Match); its files, current and earlier, leave the storage once the deletion "
        "is committed. Logged.",
        parameters=[DOCUMENT_ID, IF_MATCH_DOCUMENT],
        responses={
            204: OpenApiResponse(description="Deleted."),
            401: R401,
            403: R403,
            404: R404,
            409: R409,
            412: R412,
            428: R428,
        },
    )
    def destroy(self, request: Request, document_id: int) -> Response:
        actor = request_actor(request)
        if not selectors.document_changeable(actor=actor, document_id=document_id):
            raise WriteNotAllowed
        version, from_header = expected_version(request, None)
        with stale_version_answer(from_header):
            services.document_delete(actor=actor, document_id=document_id, version=version)
        return Response(status=status.HTTP_204_NO_CONTENT)


urlpatterns = [
    path(
        "v1/cases/<int:case_id>/documents/",
        DocumentViewSet.as_view({"get": "list", "post": "create"}),
        name="v1_case_documents",
    ),
    path(
        "v1/documents/<int:document_id>/",
        DocumentViewSet.as_view({"delete": "destroy"}),
        name="v1_document",
    ),
    path(
        "v1/documents/<int:document_id>/download/",
        DocumentViewSet.as_view({"get": "download"}),
        name="v1_document_download",
    ),
    path(
        "v1/documents/<int:document_id>/file/",
        DocumentViewSet.as_view({"put": "replace"}),
        name="v1_document_file",
    ),
    path(
        "v1/documents/<int:document_id>/versions/",
        DocumentViewSet.as_view({"get": "versions"}),
        name="v1_document_versions",
    ),
    path(
        "v1/documents/<int:document_id>/versions/<int:version_id>/download/",
        DocumentViewSet.as_view({"get": "version_download"}),
        name="v1_document_version_download",
    ),
]
